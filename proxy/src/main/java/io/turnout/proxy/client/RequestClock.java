package io.turnout.proxy.client;

import io.turnout.proxy.pool.ShardStats;

/**
 * Times one client's requests and transactions for SHOW STATS: a request runs from its first message
 * to its ReadyForQuery, a transaction from the first request after idle to ReadyForQuery 'I'.
 */
final class RequestClock {
    private long requestStartNanos;
    private long xactStartNanos;
    private long lastRequestNanos;

    RequestClock(long nowNanos) {
        this.lastRequestNanos = nowNanos;
    }

    /** A message arrived; starts the clocks unless a request is already running. True: a request started. */
    boolean messageReceived(byte txStatus) {
        if (requestStartNanos != 0) {
            return false;
        }
        long now = System.nanoTime();
        requestStartNanos = now;
        lastRequestNanos = now;
        if (txStatus == 'I' && xactStartNanos == 0) {
            xactStartNanos = now;
        }
        return true;
    }

    /** A ReadyForQuery with {@code status} ended a request; {@code more}: others are still outstanding. */
    void ready(byte status, boolean more, ShardStats stats) {
        long now = System.nanoTime();
        stats.queryDone(now - requestStartNanos);
        requestStartNanos = more ? now : 0;
        if (status == 'I' && xactStartNanos != 0) {
            stats.xactDone(now - xactStartNanos);
            xactStartNanos = 0;
        }
    }

    /** When the running request began (query_timeout), or 0 when none runs. */
    long requestStartNanos() {
        return requestStartNanos;
    }

    /** When the running transaction began (transaction_timeout), or 0 outside one. */
    long xactStartNanos() {
        return xactStartNanos;
    }

    /** When the last request began (SHOW CLIENTS' request_time). */
    long lastRequestNanos() {
        return lastRequestNanos;
    }
}
