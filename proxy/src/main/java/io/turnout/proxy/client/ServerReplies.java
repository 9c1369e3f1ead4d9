package io.turnout.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.turnout.config.PoolMode;
import io.turnout.protocol.SqlState;
import io.turnout.proxy.server.ServerConnection;
import io.turnout.proxy.server.ServerPeer;
import java.time.Duration;

/**
 * What the linked server says, relayed to the client: runs of frames written through, and the few messages
 * the pooler must notice. ReadyForQuery ends a request (and maybe the transaction, when the
 * {@link ServerLink} may give the server back); errors, copy-in and swallowed Parse/CloseComplete keep the
 * request count right; backpressure from the server pauses reading the client.
 */
final class ServerReplies implements ServerPeer {
    private final ClientHandler client;
    private final Clients clients;
    private final Channel channel;
    private final ServerLink link;
    private final RequestClock clock;
    private final OutstandingRequests outstanding;
    private final ClientTimers timers;
    private final ReadPause readPause;
    /** The transaction status of the last ReadyForQuery: 'I' idle, 'T' in a transaction, 'E' failed one. */
    private byte txStatus = 'I';

    ServerReplies(ClientHandler client, Clients clients, ServerLink link, RequestClock clock,
                  OutstandingRequests outstanding) {
        this.client = client;
        this.clients = clients;
        this.channel = client.channel();
        this.link = link;
        this.clock = clock;
        this.outstanding = outstanding;
        this.timers = client.timers();
        this.readPause = client.readPause();
    }

    byte txStatus() {
        return txStatus;
    }

    @Override
    public void serverData(ByteBuf run) {
        link.stats().sent(run.readableBytes());
        channel.write(run, channel.voidPromise());
    }

    @Override
    public void serverReady(byte status) {
        outstanding.readyReceived();
        txStatus = status;
        clock.ready(status, outstanding.expectedReady() > 0, link.stats());
        if (outstanding.expectedReady() == 0 && status != 'I') {
            if (link.mode() == PoolMode.STATEMENT) {
                channel.flush();
                client.fatal(SqlState.FEATURE_NOT_SUPPORTED,
                        "transaction blocks are not allowed in statement pooling mode");
                return;
            }
            startIdleTxTimer();
        }
        link.maybeRelease();
    }

    @Override
    public void serverCopyIn() {
        outstanding.copyInStarted();
    }

    @Override
    public void serverError() {
        ServerConnection s = link.server();
        NamedStatements statements = link.statements();
        outstanding.errorReceived(undo -> statements.undo(undo, s));
    }

    @Override
    public boolean serverParseComplete() {
        return outstanding.parseCompleted();
    }

    @Override
    public boolean serverCloseComplete() {
        return outstanding.closeCompleted();
    }

    @Override
    public void serverDeallocatedAll() {
        if (link.statements() != null) {
            link.statements().clear();
        }
    }

    @Override
    public void serverParameter(String name, String value) {
        link.parameter(name, value);
    }

    @Override
    public void flushToClient() {
        channel.flush();
    }

    @Override
    public void serverWritable(boolean writable) {
        if (writable) {
            readPause.resume(ReadPause.SERVER_BACKPRESSURE);
        } else {
            readPause.pause(ReadPause.SERVER_BACKPRESSURE);
        }
    }

    @Override
    public void serverLost(ServerConnection s) {
        link.serverLost(s);
    }

    @Override
    public long clientId() {
        return client.id();
    }

    private void startIdleTxTimer() {
        Duration timeout = clients.config().pool().idleTransactionTimeout();
        timers.startIdleTransaction(timeout, () -> {
            if (link.server() != null && outstanding.expectedReady() == 0 && txStatus != 'I') {
                client.fatal(SqlState.IDLE_IN_TRANSACTION_TIMEOUT,
                        "idle_transaction_timeout: transaction idle for more than " + timeout.toSeconds() + " s");
            }
        });
    }
}
