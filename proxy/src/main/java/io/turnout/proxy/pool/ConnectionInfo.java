package io.turnout.proxy.pool;

import java.net.InetSocketAddress;

/**
 * One client or server connection as SHOW CLIENTS / SHOW SERVERS print it, copied on the connection's
 * own event loop. {@code state} uses PgBouncer's words: clients active, waiting, login; servers active,
 * idle, used, tested, new (logging in).
 */
// tls: "TLSv1.3/cipher[/CN=name]" as PgBouncer's tls column, "" without TLS
public record ConnectionInfo(
        boolean server,
        long id,
        String user,
        String database,
        Pool pool,
        String state,
        String addr,
        int port,
        String localAddr,
        int localPort,
        long connectEpochMillis,
        long requestEpochMillis,
        long waitNanos,
        boolean closeNeeded,
        long linkId,
        int remotePid,
        String applicationName,
        int preparedStatements,
        int generation,
        boolean admin,
        String tls) {

    private static final long EPOCH_BASE_MILLIS = System.currentTimeMillis();
    private static final long NANO_BASE = System.nanoTime();
    private static final java.util.concurrent.atomic.AtomicLong IDS = new java.util.concurrent.atomic.AtomicLong();

    /** Wall-clock milliseconds for a {@link System#nanoTime()} reading (no clock call per event). */
    public static long epochMillis(long nanos) {
        return EPOCH_BASE_MILLIS + (nanos - NANO_BASE) / 1_000_000;
    }

    public static String host(Object address) {
        return address instanceof InetSocketAddress a ? a.getHostString() : "";
    }

    public static int port(Object address) {
        return address instanceof InetSocketAddress a ? a.getPort() : 0;
    }

    /** Ids shared by clients and servers, as PgBouncer's {@code id} column (KILL_CLIENT takes them). */
    public static long nextId() {
        return IDS.incrementAndGet();
    }
}
