package io.turnout.proxy.server;

import io.netty.buffer.ByteBuf;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.ServerError;
import java.util.List;

/**
 * The queries Turnout runs on one server connection itself (SET, reset, check, ROLLBACK, auth_query, the
 * primary probe) and the drains of what a departed client left running: at most one at a time, its replies
 * read by its {@link InternalRequest} and never seen by a client. Used on the connection's loop.
 */
final class InternalQueries {
    private final ServerConnection server;
    /** Our own query (or a drain) running now, or null. */
    private InternalRequest running;

    InternalQueries(ServerConnection server) {
        this.server = server;
    }

    boolean running() {
        return running != null;
    }

    /** Runs {@code sql} as a simple query. */
    void simple(String sql, ServerConnection.InternalDone done) {
        ByteBuf out = server.channel.alloc().buffer(sql.length() + 16);
        PgWrite.query(out, sql);
        send(out, null, done);
    }

    /** Runs {@code sql} with text parameters through the extended protocol, handing its rows to {@code rows}. */
    void extended(String sql, List<String> params, ServerConnection.RowSink rows, ServerConnection.InternalDone done) {
        ByteBuf out = server.channel.alloc().buffer(sql.length() + 64);
        PgWrite.parse(out, "", sql);
        PgWrite.bind(out, "", "", params);
        PgWrite.execute(out, "", 0);
        PgWrite.sync(out);
        send(out, rows, done);
    }

    /** Swallows the replies to {@code readyCount} requests already sent, then calls {@code done}. */
    void drain(int readyCount, ServerConnection.InternalDone done) {
        start(new InternalRequest(readyCount, null, done));
    }

    private void send(ByteBuf messages, ServerConnection.RowSink rows, ServerConnection.InternalDone done) {
        start(new InternalRequest(1, rows, done));
        server.writes.push();
        server.channel.writeAndFlush(messages, server.channel.voidPromise());
    }

    private void start(InternalRequest r) {
        running = r;
        server.state = ServerConnection.State.INTERNAL;
    }

    /** How the scanner hands over a reply to the running request. */
    int frameStart(byte type) {
        return running.frameStart(type);
    }

    /** A whole reply ({@code frame}, released by the request) for the running request. */
    void onFrame(byte type, ByteBuf frame) {
        InternalRequest r = running;
        if (r.onFrame(type, frame)) {
            running = null;
            server.state = server.peer != null ? ServerConnection.State.ACTIVE : ServerConnection.State.IDLE;
            r.complete(server);
        }
    }

    /** The connection closed: the running request, if any, fails. */
    void closed() {
        InternalRequest r = running;
        if (r != null) {
            running = null;
            r.fail(server, new ServerError("FATAL", "08006", "server closed the connection", null));
        }
    }
}
