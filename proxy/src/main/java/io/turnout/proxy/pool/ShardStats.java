package io.turnout.proxy.pool;

/**
 * Traffic counters of one pool shard. Written only on the shard's event loop, so plain fields suffice;
 * readers copy them with {@link #copyInto} from a task run on that loop (see {@code Transports.collect}).
 * Times are kept in nanoseconds and shown in microseconds, as PgBouncer does.
 */
public final class ShardStats {
    /** Receives each client's wait for a server (the metrics histogram); called on the shard's loop. */
    public interface WaitRecorder {
        WaitRecorder NONE = nanos -> { };

        void record(long nanos);
    }

    long assignments;
    long xacts;
    long queries;
    long received;
    long sent;
    long xactNanos;
    long queryNanos;
    long waitNanos;
    long clientParses;
    long serverParses;
    long binds;
    private final WaitRecorder waits;

    ShardStats(WaitRecorder waits) {
        this.waits = waits;
    }

    /** A client got a server after waiting {@code nanos} (0 when one was idle). */
    public void assigned(long nanos) {
        assignments++;
        waitNanos += nanos;
        waits.record(nanos);
    }

    /** A request (Query, Sync or FunctionCall) got its ReadyForQuery {@code nanos} after it began. */
    public void queryDone(long nanos) {
        queries++;
        queryNanos += nanos;
    }

    /** A transaction ended (ReadyForQuery 'I') {@code nanos} after its first request began. */
    public void xactDone(long nanos) {
        xacts++;
        xactNanos += nanos;
    }

    public void received(int bytes) {
        received += bytes;
    }

    public void sent(int bytes) {
        sent += bytes;
    }

    public void clientParse() {
        clientParses++;
    }

    public void serverParse() {
        serverParses++;
    }

    public void bind() {
        binds++;
    }

    /** Adds this shard's counters to {@code sum} (run on this shard's loop). */
    public void copyInto(StatsTotals sum) {
        sum.add(assignments, xacts, queries, received, sent, xactNanos, queryNanos, waitNanos, clientParses,
                serverParses, binds);
    }
}
