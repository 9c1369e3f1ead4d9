package io.turnout.proxy.client;

import io.netty.channel.Channel;

/**
 * Why a client's socket is not read now. Several reasons can hold at once (waiting for a server with too
 * much queued, the server's socket full, SUSPEND); reading resumes only when none is left.
 */
final class ReadPause {
    /** Too much arrived while waiting for a server: read again once linked. */
    static final int WAITING = 1;
    /** The linked server's socket is not writable. */
    static final int SERVER_BACKPRESSURE = 2;
    /** The admin console's SUSPEND. */
    static final int SUSPEND = 4;

    private final Channel channel;
    private int reasons;
    private boolean closed;

    ReadPause(Channel channel) {
        this.channel = channel;
    }

    void pause(int reason) {
        if (reasons == 0) {
            channel.config().setAutoRead(false);
        }
        reasons |= reason;
    }

    /** Drops {@code reason}; reads again when it was the last one. */
    void resume(int reason) {
        if ((reasons & reason) == 0) {
            return;
        }
        reasons &= ~reason;
        if (reasons == 0 && !closed) {
            channel.config().setAutoRead(true);
        }
    }

    /** The client is gone: nothing turns reading back on. */
    void close() {
        closed = true;
    }
}
