package io.turnout.proxy.admin;

import io.turnout.proxy.pool.StatsTotals;
import java.util.Map;

/**
 * The counters at the last two stats_period ticks, so SHOW STATS averages describe the last complete
 * period as PgBouncer's do. Written by the periodic collection, read by admin clients on any loop.
 */
public final class StatsHistory {
    /** Per-database totals and when they were taken. */
    private record Tick(Map<String, StatsTotals> byDatabase, long nanos) {
    }

    private volatile Tick older;
    private volatile Tick newer;

    /** Records the counters of a new tick (called once per stats_period). */
    public synchronized void tick(Snapshot snap) {
        older = newer;
        newer = new Tick(snap.statsByDatabase(), snap.takenNanos());
    }

    /** Averages of one database (or of all, when {@code database} is null) over the last period. */
    Averages averages(String database) {
        Tick a = older;
        Tick b = newer;
        if (a == null || b == null || b.nanos <= a.nanos) {
            return Averages.ZERO;
        }
        StatsTotals x = sum(a, database);
        StatsTotals y = sum(b, database);
        double seconds = (b.nanos - a.nanos) / 1e9;
        long xacts = y.xacts - x.xacts;
        long queries = y.queries - x.queries;
        long assignments = y.assignments - x.assignments;
        return new Averages(
                perSecond(assignments, seconds), perSecond(xacts, seconds), perSecond(queries, seconds),
                perSecond(y.received - x.received, seconds), perSecond(y.sent - x.sent, seconds),
                xacts > 0 ? (y.xactNanos - x.xactNanos) / 1000 / xacts : 0,
                queries > 0 ? (y.queryNanos - x.queryNanos) / 1000 / queries : 0,
                assignments > 0 ? (y.waitNanos - x.waitNanos) / 1000 / assignments : 0,
                perSecond(y.clientParses - x.clientParses, seconds), perSecond(y.serverParses - x.serverParses, seconds),
                perSecond(y.binds - x.binds, seconds));
    }

    private static StatsTotals sum(Tick t, String database) {
        StatsTotals out = new StatsTotals();
        t.byDatabase.forEach((db, s) -> {
            if (database == null || database.equals(db)) {
                out.add(s);
            }
        });
        return out;
    }

    private static long perSecond(long delta, double seconds) {
        return Math.round(delta / seconds);
    }

    /** Rates per second; times in microseconds per transaction, query or assignment. */
    record Averages(long assignments, long xacts, long queries, long received, long sent, long xactTimeUs,
                    long queryTimeUs, long waitTimeUs, long clientParses, long serverParses, long binds) {
        static final Averages ZERO = new Averages(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

        Object[] values() {
            return new Object[] {assignments, xacts, queries, received, sent, xactTimeUs, queryTimeUs, waitTimeUs,
                    clientParses, serverParses, binds};
        }
    }
}
