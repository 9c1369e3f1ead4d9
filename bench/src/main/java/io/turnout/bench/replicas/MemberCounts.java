package io.turnout.bench.replicas;

import io.turnout.proxy.testing.PatroniNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Transactions per shard member, counted by each member itself ({@code pg_stat_database.xact_commit} of the
 * benchmark's database, read over a connection to {@code postgres} so that reading does not count) and by Turnout
 * ({@code turnout_replica_transactions_total} on /metrics). PostgreSQL 15 backends flush their statistics at most
 * once a second and, when idle, up to 10 s later, but always when they exit: {@link #settled} is read after
 * Turnout closed its idle servers.
 */
final class MemberCounts {
    private static final long SETTLE_POLL_MS = 300;
    private static final long SETTLE_MAX_MS = 30_000;

    private MemberCounts() {
    }

    /** xact_commit of {@code db} on each node, by node name, once two reads in a row agree. */
    static Map<String, Long> settled(List<PatroniNode> nodes, String db) throws SQLException, InterruptedException {
        long deadline = System.nanoTime() + SETTLE_MAX_MS * 1_000_000;
        Map<String, Long> last = commits(nodes, db);
        while (true) {
            Thread.sleep(SETTLE_POLL_MS);
            Map<String, Long> now = commits(nodes, db);
            if (now.equals(last) || System.nanoTime() > deadline) {
                return now;
            }
            last = now;
        }
    }

    static Map<String, Long> commits(List<PatroniNode> nodes, String db) throws SQLException {
        Map<String, Long> byName = new LinkedHashMap<>();
        for (PatroniNode n : nodes) {
            try (Connection c = n.connect("postgres");
                    PreparedStatement ps = c.prepareStatement("select xact_commit from pg_stat_database where datname = ?")) {
                ps.setString(1, db);
                try (ResultSet rs = ps.executeQuery()) {
                    byName.put(n.name(), rs.next() ? rs.getLong(1) : 0L);
                }
            }
        }
        return byName;
    }

    /** The first column of the first row {@code sql} returns, as text. */
    static String text(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            if (!rs.next()) {
                throw new SQLException("no row from " + sql);
            }
            return rs.getString(1);
        }
    }

    /** turnout_replica_transactions_total of {@code database}, by member, from Turnout's /metrics. */
    static Map<String, Long> turnout(int httpPort, String database) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + httpPort + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        Matcher m = Pattern.compile("(?m)^turnout_replica_transactions_total\\{database=\"" + Pattern.quote(database)
                + "\",member=\"([^\"]+)\"} ([0-9.eE+]+)$").matcher(r.body());
        Map<String, Long> byMember = new LinkedHashMap<>();
        while (m.find()) {
            byMember.put(m.group(1), (long) Double.parseDouble(m.group(2)));
        }
        return byMember;
    }

    /** {@code after - before} per name. */
    static Map<String, Long> delta(Map<String, Long> before, Map<String, Long> after) {
        Map<String, Long> d = new LinkedHashMap<>();
        after.forEach((k, v) -> d.put(k, v - before.getOrDefault(k, 0L)));
        return d;
    }

    /** (max - min) / mean of the counts of {@code names}; 0 for fewer than two or none counted. */
    static double spread(Map<String, Long> counts, List<String> names) {
        if (names.size() < 2) {
            return 0;
        }
        long min = Long.MAX_VALUE;
        long max = Long.MIN_VALUE;
        double sum = 0;
        for (String n : names) {
            long v = counts.getOrDefault(n, 0L);
            min = Math.min(min, v);
            max = Math.max(max, v);
            sum += v;
        }
        return sum == 0 ? 0 : (max - min) / (sum / names.size());
    }
}
