package io.turnout.proxy.server;

import io.netty.buffer.ByteBuf;

/** Receives what the server says to the linked client. */
public interface ServerPeer {
    void serverData(ByteBuf run);

    /** ReadyForQuery with {@code status} was just forwarded (at the end of the last run). */
    void serverReady(byte status);

    /** A ParameterStatus was just forwarded. */
    void serverParameter(String name, String value);

    /** A CopyInResponse is on its way: the server is entering copy-in mode. */
    void serverCopyIn();

    /** An ErrorResponse is on its way: the server skips to the next Sync. */
    void serverError();

    /** A ParseComplete is on its way: true to swallow it (it answers a Parse the client never sent). */
    boolean serverParseComplete();

    /** A CloseComplete is on its way: true to swallow it. */
    boolean serverCloseComplete();

    /** DISCARD ALL or DEALLOCATE ALL ran: no statement is prepared on this server any more. */
    void serverDeallocatedAll();

    void flushToClient();

    void serverWritable(boolean writable);

    void serverLost(ServerConnection server);

    /** The client's id, for SHOW SERVERS' link column. */
    long clientId();
}
