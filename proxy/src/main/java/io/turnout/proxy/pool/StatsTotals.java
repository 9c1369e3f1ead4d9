package io.turnout.proxy.pool;

/** A sum of {@link ShardStats} at one moment, owned by whoever collected it; times in nanoseconds. */
public final class StatsTotals {
    public long assignments;
    public long xacts;
    public long queries;
    public long received;
    public long sent;
    public long xactNanos;
    public long queryNanos;
    public long waitNanos;
    public long clientParses;
    public long serverParses;
    public long binds;

    void add(long assignments, long xacts, long queries, long received, long sent, long xactNanos, long queryNanos,
             long waitNanos, long clientParses, long serverParses, long binds) {
        this.assignments += assignments;
        this.xacts += xacts;
        this.queries += queries;
        this.received += received;
        this.sent += sent;
        this.xactNanos += xactNanos;
        this.queryNanos += queryNanos;
        this.waitNanos += waitNanos;
        this.clientParses += clientParses;
        this.serverParses += serverParses;
        this.binds += binds;
    }

    public void add(StatsTotals o) {
        add(o.assignments, o.xacts, o.queries, o.received, o.sent, o.xactNanos, o.queryNanos, o.waitNanos,
                o.clientParses, o.serverParses, o.binds);
    }
}
