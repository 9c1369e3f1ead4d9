package io.turnout.proxy.pool;

/** How soon a target that cannot be used is tried again. */
enum Retry {
    /** Answers, but is still in recovery: Patroni names a leader before pg_ctl promote returns. */
    PROMOTING(20_000_000L, 20_000_000L),
    /** Refuses logins with 57P03 (starting up, crash recovery, shutting down): soon, capped low. */
    STARTING(10_000_000L, 100_000_000L),
    /** Refuses connections: may be down for long. */
    UNREACHABLE(50_000_000L, 1_000_000_000L);

    final long firstNanos;
    final long capNanos;

    Retry(long firstNanos, long capNanos) {
        this.firstNanos = firstNanos;
        this.capNanos = capNanos;
    }
}
