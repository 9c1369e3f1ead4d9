package io.turnout.bench.failover;

import io.turnout.proxy.testing.EtcdKeyWatch;
import io.turnout.proxy.testing.EtcdServer;
import io.turnout.proxy.testing.KillTiming;
import io.turnout.proxy.testing.PatroniCluster;
import io.turnout.proxy.testing.PatroniNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Real Patroni 3.0.2 clusters (the integration tests' {@link PatroniCluster}, two PostgreSQL 15 nodes each) on
 * a real etcd 3.4 ({@link EtcdServer}), which Turnout follows through its {@code etcd:} source. Nothing is
 * played here: {@link #failover} kill -9s shard A's leader (Patroni and PostgreSQL, as a dead host) and only
 * watches what Patroni does.
 *
 * <p>The instants of a failover, all seen from this JVM:
 * <ul>
 *   <li>the leader key's DELETE (its lease ran out, ~ttl after the dead leader's last refresh) and the new
 *       leader's PUT, by an etcd watch stream on the key ({@link EtcdKeyWatch}): etcd pushes each change to
 *       this JVM, a millisecond or two after it was applied on this machine, where a poll would add its
 *       interval. The PUT's arrival is the start of swap_ms; it can only be later than the write itself, so
 *       swap_ms is short by that much, and Turnout's own watch may see the key a little before this one.
 *       {@link PatroniCluster#killLeader()}'s own 20 ms poll of the key is kept as a cross-check.
 *   <li>the new leader leaving recovery, by its own answer to {@code pg_is_in_recovery()} on one connection,
 *       polled every {@value #PROMOTION_POLL_MS} ms once the old key is gone (every 50 ms before: it cannot
 *       promote while the dead leader's key is there). Patroni 3.0.2 takes the key, then runs pg_ctl promote,
 *       so this comes after the key: {@link #leaderKeyBeforePromotion()}.
 * </ul>
 *
 * <p>{@link #heal} restarts the killed member's Patroni; Patroni pg_rewinds it (or clones it afresh) into a
 * replica of the new leader, so the next round kills the other node.
 */
final class PatroniEtcdDriver implements ClusterDriver {
    static final int PROMOTION_POLL_MS = 2;
    private static final Duration PATRONI = Duration.ofSeconds(90);

    private final EtcdServer etcd;
    private final List<PatroniCluster> clusters;
    /** Each shard's leader as of the last failover this driver saw (not asked of Patroni's REST API each time). */
    private final List<PatroniNode> leaders = new ArrayList<>();
    private final Map<Integer, PatroniNode> killed = new LinkedHashMap<>();

    /** Starts etcd and {@code count} clusters of two nodes (scopes shard-a, ...), and database bench_a, ... on each. */
    PatroniEtcdDriver(int count, Consumer<String> progress) throws SQLException {
        progress.accept("starting etcd");
        etcd = EtcdServer.start();
        String[] scopes = new String[count];
        for (int i = 0; i < count; i++) {
            scopes[i] = ConsulShardsDriver.scope(i);
        }
        try {
            progress.accept("starting " + count + " Patroni clusters of 2 nodes (initdb, pg_basebackup) on etcd "
                    + etcd.hostPort() + " (" + etcd.version().strip() + ")");
            clusters = PatroniCluster.startAll(etcd, 2, scopes);
        } catch (RuntimeException | Error e) {
            etcd.close();
            throw e;
        }
        try {
            for (int i = 0; i < count; i++) {
                PatroniNode l = clusters.get(i).leader();
                leaders.add(l);
                try (Connection c = l.connect("postgres"); Statement st = c.createStatement()) {
                    st.execute("CREATE DATABASE " + dbname(i));
                }
            }
            String pglog = System.getProperty("failover.pglog", "");
            if (!pglog.isBlank()) {
                logSlowStatements(Integer.parseInt(pglog.strip()), progress);
            }
        } catch (SQLException | RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /**
     * Investigation knob ({@code -Dfailover.pglog=MS} in FAILOVER_JAVA_OPTS): every node logs its statements slower
     * than {@code ms}, its logins and its checkpoints, with ms timestamps, into patroni.log (kept with --keep), to
     * split a slow first commit after a promotion between PostgreSQL and Turnout. 0 logs every statement: heavy.
     */
    private void logSlowStatements(int ms, Consumer<String> progress) throws SQLException {
        for (PatroniCluster cluster : clusters) {
            for (PatroniNode n : cluster.nodes()) {
                try (Connection c = n.connect("postgres"); Statement st = c.createStatement()) {
                    st.execute("ALTER SYSTEM SET log_min_duration_statement = " + ms);
                    st.execute("ALTER SYSTEM SET log_connections = on");
                    st.execute("ALTER SYSTEM SET log_checkpoints = on");
                    st.execute("SELECT pg_reload_conf()");
                }
            }
        }
        progress.accept("PostgreSQL logs statements slower than " + ms + " ms, logins and checkpoints (patroni.log)");
    }

    @Override
    public String name() {
        return "patroni-3.0.2+etcd-" + etcd.version().replaceAll(".*\"etcdserver\":\"([^\"]+)\".*", "$1").strip()
                + " (ttl " + PatroniCluster.TTL_SECONDS + " s, loop_wait " + PatroniCluster.LOOP_WAIT_SECONDS + " s)";
    }

    @Override
    public String dcs() {
        return "etcd";
    }

    @Override
    public boolean leaderKeyBeforePromotion() {
        return true;
    }

    @Override
    public int shards() {
        return clusters.size();
    }

    @Override
    public Map<String, String> turnoutSettings() {
        return Map.of("etcd", "{ hosts: [\"" + etcd.hostPort() + "\"], namespace: " + PatroniCluster.DEFAULT_NAMESPACE
                + " }");
    }

    @Override
    public String dbname(int i) {
        return "bench_" + (char) ('a' + i);
    }

    @Override
    public String databaseEntry(int i) {
        return "patroni_scope: " + clusters.get(i).scope() + ", dbname: " + dbname(i) + ", user: "
                + PatroniCluster.SUPERUSER + ", password: " + PatroniCluster.SUPERUSER_PASSWORD;
    }

    @Override
    public String psqlPrimary(int i, String db, String sql) {
        try (Connection c = leaders.get(i).connect(db)) {
            return run(c, sql);
        } catch (SQLException e) {
            throw new IllegalStateException("on " + leaders.get(i) + ": " + sql + ": " + e.getMessage(), e);
        }
    }

    /** Runs {@code sql} (one or more statements) and formats the last result set as psql -A -t would. */
    private static String run(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            boolean rs = st.execute(sql);
            String out = "";
            while (true) {
                if (rs) {
                    StringBuilder sb = new StringBuilder();
                    try (ResultSet r = st.getResultSet()) {
                        int cols = r.getMetaData().getColumnCount();
                        while (r.next()) {
                            for (int k = 1; k <= cols; k++) {
                                String v = r.getString(k);
                                sb.append(k > 1 ? "|" : "").append(v == null ? "" : v);
                            }
                            sb.append('\n');
                        }
                    }
                    out = sb.toString();
                } else if (st.getUpdateCount() == -1) {
                    return out;
                }
                rs = st.getMoreResults();
            }
        }
    }

    @Override
    public void awaitReplicaCaughtUp(int i) {
        PatroniNode leader = leaders.get(i);
        String lsn = psqlPrimary(i, "postgres", "SELECT pg_current_wal_lsn()").strip();
        long deadline = System.nanoTime() + PATRONI.toNanos();
        for (PatroniNode n : clusters.get(i).nodes()) {
            if (n == leader || !n.isPatroniRunning()) {
                continue;
            }
            while (true) {
                try (Connection c = n.connect("postgres")) {
                    if (run(c, "SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn").strip().equals("t")) {
                        break;
                    }
                } catch (SQLException e) {
                    // restarting after a rewind: ask again
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(n + " did not replay up to " + lsn + " of " + leader);
                }
                sleep(20);
            }
        }
    }

    @Override
    public Connection connectPrimary(int i, String db) throws SQLException {
        return leaders.get(i).connect(db);
    }

    @Override
    public int primaryPort(int i) {
        return leaders.get(i).pgPort();
    }

    @Override
    public Failover failover(int i) throws Exception {
        PatroniCluster cluster = clusters.get(i);
        PatroniNode old = leaders.get(i);
        List<PatroniNode> others = cluster.nodes().stream().filter(n -> n != old && n.isPatroniRunning()).toList();
        if (others.size() != 1) {
            throw new IllegalStateException("expected one running replica in " + cluster + ", got " + others);
        }
        PatroniNode next = others.get(0);
        try (EtcdKeyWatch key = EtcdKeyWatch.start(etcd, cluster.leaderKey())) {
            CompletableFuture<Long> promoted = promotedAt(next, key);
            long killStarted = System.nanoTime();
            // looks the leader up by REST (a few ms), then kill -9 of its Patroni and of its PostgreSQL's tree
            PatroniNode dead = cluster.killLeader();
            long killDone = System.nanoTime();
            if (dead != old) {
                throw new IllegalStateException("Patroni's leader was " + dead + ", expected " + old);
            }
            killed.put(i, dead);
            EtcdKeyWatch.Change put = key.awaitPut(next.name()::equals, killStarted, PATRONI);
            long keyWritten = put.nanos();
            Instant wall = Instant.now().minusNanos(System.nanoTime() - keyWritten);
            long leaderGone = key.changes().stream().filter(c -> c.value() == null && c.nanos() >= killStarted)
                    .mapToLong(EtcdKeyWatch.Change::nanos).findFirst().orElse(keyWritten);
            KillTiming polled = cluster.awaitNewLeaderKey(PATRONI);
            long promotedAt = promoted.get(PATRONI.toSeconds(), TimeUnit.SECONDS);
            leaders.set(i, next);
            Map<String, Long> extra = new LinkedHashMap<>();
            extra.put("patroni_detect_ms", Math.round(Round.ms(keyWritten - killStarted)));
            return new Failover(old.pgPort(), next.pgPort(), killStarted, killDone, leaderGone, promotedAt, keyWritten,
                    wall, extra, String.format("etcd watch: key gone +%.1f ms, new key +%.1f ms after the kill began; "
                            + "KillTiming's 20 ms poll: gone +%d ms, new key +%d ms (from its own t0, just before "
                            + "kill -9); promotion by pg_is_in_recovery() polled every %d ms",
                            Round.ms(leaderGone - killStarted), Round.ms(keyWritten - killStarted),
                            polled.leaderKeyGone().toMillis(), polled.newLeaderKey().toMillis(), PROMOTION_POLL_MS));
        }
    }

    @Override
    public Failover switchover(int i) throws Exception {
        PatroniCluster cluster = clusters.get(i);
        PatroniNode old = leaders.get(i);
        PatroniNode next = cluster.nodes().stream().filter(n -> n != old && n.isPatroniRunning()).findFirst()
                .orElseThrow(() -> new IllegalStateException("no running replica in " + cluster));
        try (EtcdKeyWatch key = EtcdKeyWatch.start(etcd, cluster.leaderKey())) {
            CompletableFuture<Long> promoted = promotedAt(next, key);
            long started = System.nanoTime();
            cluster.switchover(); // patronictl switchover --leader old --candidate next; waits for streaming
            long done = System.nanoTime();
            EtcdKeyWatch.Change put = key.awaitPut(next.name()::equals, started, PATRONI);
            long keyWritten = put.nanos();
            Instant wall = Instant.now().minusNanos(System.nanoTime() - keyWritten);
            long leaderGone = key.changes().stream().filter(c -> c.value() == null && c.nanos() >= started)
                    .mapToLong(EtcdKeyWatch.Change::nanos).findFirst().orElse(keyWritten);
            long promotedAt = promoted.get(PATRONI.toSeconds(), TimeUnit.SECONDS);
            leaders.set(i, next);
            Map<String, Long> extra = new LinkedHashMap<>();
            extra.put("patroni_ms", Math.round(Round.ms(keyWritten - started)));
            return new Failover(old.pgPort(), next.pgPort(), started, done, leaderGone, promotedAt, keyWritten, wall,
                    extra, String.format("patronictl started at 0; leader key gone +%.1f ms, new key +%.1f ms",
                            Round.ms(leaderGone - started), Round.ms(keyWritten - started)));
        }
    }

    /**
     * When {@code node} left recovery, by its own pg_is_in_recovery() on one connection: every 50 ms while the
     * old leader key is there (no promotion can start), every {@value #PROMOTION_POLL_MS} ms once it is gone.
     */
    private static CompletableFuture<Long> promotedAt(PatroniNode node, EtcdKeyWatch key) {
        CompletableFuture<Long> at = new CompletableFuture<>();
        long since = System.nanoTime();
        Thread t = new Thread(() -> {
            long deadline = System.nanoTime() + PATRONI.toNanos() * 2;
            Connection c = null;
            String last = "no answer";
            try {
                while (System.nanoTime() < deadline) {
                    try {
                        if (c == null) {
                            c = node.connect("postgres");
                        }
                        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select pg_is_in_recovery()")) {
                            rs.next();
                            if (!rs.getBoolean(1)) {
                                at.complete(System.nanoTime());
                                return;
                            }
                        }
                    } catch (SQLException e) {
                        last = e.getMessage(); // a restart of the replica (not expected): connect again
                        close(c);
                        c = null;
                    }
                    boolean gone = key.changes().stream().anyMatch(ch -> ch.nanos() >= since);
                    Thread.sleep(gone ? PROMOTION_POLL_MS : 50);
                }
                at.completeExceptionally(new IllegalStateException(node + " stayed in recovery (" + last + ")"));
            } catch (InterruptedException e) {
                at.completeExceptionally(e);
            } finally {
                close(c);
            }
        }, "promotion-watch-" + node.name());
        t.setDaemon(true);
        t.start();
        return at;
    }

    private static void close(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // broken already
            }
        }
    }

    @Override
    public void heal(int i) {
        PatroniNode dead = killed.remove(i);
        if (dead != null) {
            clusters.get(i).restartNode(dead); // Patroni pg_rewinds it into a replica of the new leader
        }
    }

    @Override
    public void saveLogs(Path dir) {
        for (PatroniCluster c : clusters) {
            for (PatroniNode n : c.nodes()) {
                try {
                    Files.copy(n.logFile(), dir.resolve(n.name() + "-patroni.log"), StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException e) {
                    // a node that never wrote a log: nothing to keep
                }
            }
        }
        try {
            Files.writeString(dir.resolve("etcd.log"), etcd.logTail(2000));
        } catch (IOException e) {
            // nothing to keep
        }
    }

    @Override
    public void close() {
        if (clusters != null) {
            clusters.forEach(PatroniCluster::close);
        }
        etcd.close();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
