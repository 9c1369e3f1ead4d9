package io.turnout.proxy.server;

import java.util.concurrent.atomic.AtomicLong;

/** Ids shared by client and server connections, as PgBouncer's {@code id} column (KILL_CLIENT takes them). */
public final class ConnectionIds {
    private static final AtomicLong IDS = new AtomicLong();

    private ConnectionIds() {
    }

    public static long next() {
        return IDS.incrementAndGet();
    }
}
