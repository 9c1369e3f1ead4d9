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
 * stats_period. Times in microseconds, counters typed numeric as PgBouncer does. The per-database SHOWs
 * follow PgBouncer 1.18's layout (what its exporters read), the newer counters after it, and have a row
 * for the admin console's virtual database as PgBouncer does.
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

    /** Counter indexes in PgBouncer 1.18's order, then the counters newer PgBouncers added. */
    private static final int[] LAYOUT = {1, 2, 3, 4, 5, 6, 7, 0, 8, 9, 10};
    /** How many of them PgBouncer 1.18 has: SHOW STATS lists its total_ and avg_ ones before the newer ones. */
    private static final int V118 = 7;

    private ShowStats() {
    }

    private static List<String> layout(List<String> names) {
        List<String> out = new ArrayList<>();
        for (int i : LAYOUT) {
            out.add(names.get(i));
        }
        return out;
    }

    private static Object[] layout(Object[] values) {
        Object[] out = new Object[LAYOUT.length];
        for (int i = 0; i < LAYOUT.length; i++) {
            out[i] = values[LAYOUT[i]];
        }
        return out;
    }

    static AdminResult stats(Snapshot snap, StatsHistory history, java.util.Collection<String> databases) {
        List<String> names = new ArrayList<>();
        List<String> totals = layout(TOTALS);
        List<String> averages = layout(AVERAGES);
        totals.subList(0, V118).forEach(n -> names.add("total_" + n));
        averages.subList(0, V118).forEach(n -> names.add("avg_" + n));
        totals.subList(V118, totals.size()).forEach(n -> names.add("total_" + n));
        averages.subList(V118, averages.size()).forEach(n -> names.add("avg_" + n));
        return perDatabase(names, snap, databases, (db, t) -> {
            Object[] tv = layout(totals(t));
            Object[] av = layout(history.averages(db).values());
            return concat(concat(java.util.Arrays.copyOf(tv, V118), java.util.Arrays.copyOf(av, V118)),
                    concat(java.util.Arrays.copyOfRange(tv, V118, tv.length), java.util.Arrays.copyOfRange(av, V118, av.length)));
        });
    }

    static AdminResult totals(Snapshot snap, java.util.Collection<String> databases) {
        return perDatabase(layout(TOTALS_PLAIN), snap, databases, (db, t) -> layout(totals(t)));
    }

    static AdminResult averages(Snapshot snap, StatsHistory history, java.util.Collection<String> databases) {
        return perDatabase(layout(TOTALS_PLAIN), snap, databases, (db, t) -> layout(history.averages(db).values()));
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
        out.putIfAbsent(ShowPools.CONSOLE, new StatsTotals()); // the console's own traffic is not counted
        return out;
    }

    static Object[] totals(StatsTotals t) {
        return new Object[] {t.assignments, t.xacts, t.queries, t.received, t.sent, t.xactNanos / 1000,
                t.queryNanos / 1000, t.waitNanos / 1000, t.clientParses, t.serverParses, t.binds};
    }
}
