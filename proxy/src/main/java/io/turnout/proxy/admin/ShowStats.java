package io.turnout.proxy.admin;

import static io.turnout.proxy.admin.AdminResult.NUMERIC;
import static io.turnout.proxy.admin.AdminResult.TEXT;

import io.turnout.proxy.pool.StatsTotals;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * SHOW STATS, STATS_TOTALS, STATS_AVERAGES and TOTALS. Totals are live; averages cover the last complete
 * stats_period. Times in microseconds, counters typed numeric as PgBouncer does.
 */
final class ShowStats {
    /** The counter names in PgBouncer's order; STATS prefixes them with total_ / avg_. */
    private static final List<String> TOTALS = List.of("server_assignment_count", "xact_count", "query_count",
            "received", "sent", "xact_time", "query_time", "wait_time", "client_parse_count", "server_parse_count",
            "bind_count");
    private static final List<String> TOTALS_PLAIN = List.of("server_assignment_count", "xact_count", "query_count",
            "bytes_received", "bytes_sent", "xact_time", "query_time", "wait_time", "client_parse_count",
            "server_parse_count", "bind_count");
    private static final List<String> AVERAGES = List.of("server_assignment_count", "xact_count", "query_count",
            "recv", "sent", "xact_time", "query_time", "wait_time", "client_parse_count", "server_parse_count",
            "bind_count");

    private ShowStats() {
    }

    static AdminResult stats(Snapshot snap, StatsHistory history, java.util.Collection<String> databases) {
        List<String> names = new ArrayList<>();
        TOTALS.forEach(n -> names.add("total_" + n));
        AVERAGES.forEach(n -> names.add("avg_" + n));
        return perDatabase(names, snap, databases, (db, t) -> concat(totals(t), history.averages(db).values()));
    }

    static AdminResult totals(Snapshot snap, java.util.Collection<String> databases) {
        return perDatabase(TOTALS_PLAIN, snap, databases, (db, t) -> totals(t));
    }

    static AdminResult averages(Snapshot snap, StatsHistory history, java.util.Collection<String> databases) {
        return perDatabase(TOTALS_PLAIN, snap, databases, (db, t) -> history.averages(db).values());
    }

    private static Object[] concat(Object[] a, Object[] b) {
        Object[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** SHOW TOTALS: every database together, one (name, value) row per counter. */
    static AdminResult grandTotals(Snapshot snap, StatsHistory history) {
        StatsTotals all = new StatsTotals();
        snap.stats().values().forEach(all::add);
        AdminResult r = new AdminResult("SHOW").columns("name", TEXT, "value", NUMERIC);
        Object[] t = totals(all);
        for (int i = 0; i < TOTALS.size(); i++) {
            r.row("total_" + TOTALS.get(i), t[i]);
        }
        Object[] a = history.averages(null).values();
        for (int i = 0; i < AVERAGES.size(); i++) {
            r.row("avg_" + AVERAGES.get(i), a[i]);
        }
        return r;
    }

    private static AdminResult perDatabase(List<String> names, Snapshot snap, java.util.Collection<String> databases,
                                           java.util.function.BiFunction<String, StatsTotals, Object[]> values) {
        List<Object> cols = new ArrayList<>(List.of("database", TEXT));
        names.forEach(n -> cols.addAll(List.of(n, NUMERIC)));
        AdminResult r = new AdminResult("SHOW").columns(cols.toArray());
        byDatabase(snap, databases).forEach((db, t) -> r.row(concat(new Object[] {db}, values.apply(db, t))));
        return r;
    }

    /** Every configured database (zeros before its first client) plus any whose pools outlived a RELOAD. */
    private static Map<String, StatsTotals> byDatabase(Snapshot snap, java.util.Collection<String> databases) {
        Map<String, StatsTotals> out = new TreeMap<>(snap.statsByDatabase());
        databases.forEach(db -> out.putIfAbsent(db, new StatsTotals()));
        return out;
    }

    static Object[] totals(StatsTotals t) {
        return new Object[] {t.assignments, t.xacts, t.queries, t.received, t.sent, t.xactNanos / 1000,
                t.queryNanos / 1000, t.waitNanos / 1000, t.clientParses, t.serverParses, t.binds};
    }
}
