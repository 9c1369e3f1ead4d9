package io.turnout.proxy.server;

import io.netty.buffer.ByteBuf;
import io.turnout.protocol.BackendType;
import io.turnout.protocol.PgFrameScanner;
import io.turnout.protocol.PgRead;
import io.turnout.protocol.ServerError;

/**
 * Work Turnout runs on a server itself (SET, reset, check, ROLLBACK, auth_query) or a drain of what a departed
 * client left running: its replies are read here and never reach a client. Done at the last awaited
 * ReadyForQuery, with the first ErrorResponse if any.
 */
final class InternalRequest {
    private final ServerConnection.InternalDone done;
    private final ServerConnection.RowSink rows;
    /** ReadyForQuery messages still awaited (a drain may wait for several). */
    private int readyLeft;
    private ServerError error;

    InternalRequest(int readyCount, ServerConnection.RowSink rows, ServerConnection.InternalDone done) {
        this.readyLeft = readyCount;
        this.rows = rows;
        this.done = done;
    }

    /** How the scanner hands over a reply: whole when this request reads it, passed (and dropped) otherwise. */
    int frameStart(byte type) {
        return type == BackendType.READY_FOR_QUERY || type == BackendType.PARAMETER_STATUS
                || type == BackendType.ERROR_RESPONSE || (rows != null && type == BackendType.DATA_ROW)
                ? PgFrameScanner.WHOLE : PgFrameScanner.PASS;
    }

    /** A whole reply ({@code frame}, released here); true once the last awaited ReadyForQuery came. */
    boolean onFrame(byte type, ByteBuf frame) {
        try {
            switch (type) {
                case BackendType.READY_FOR_QUERY -> {
                    return --readyLeft <= 0;
                }
                case BackendType.ERROR_RESPONSE -> {
                    if (error == null) {
                        error = ServerError.parse(frame);
                    }
                }
                case BackendType.DATA_ROW -> rows.row(PgRead.dataRow(frame));
                default -> { } // ParameterStatus of our own SET or RESET: recorded when sent
            }
            return false;
        } finally {
            frame.release();
        }
    }

    void complete(ServerConnection server) {
        done.done(server, error);
    }

    void fail(ServerConnection server, ServerError why) {
        done.done(server, why);
    }
}
