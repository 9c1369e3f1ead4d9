package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.pool.Database;
import io.turnout.proxy.pool.ReadRoutes;
import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.Await;
import io.turnout.proxy.testing.EtcdServer;
import io.turnout.proxy.testing.PatroniCluster;
import io.turnout.proxy.testing.PatroniControl;
import io.turnout.proxy.testing.PatroniNode;
import io.turnout.proxy.testing.ShardLoad;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Reads on replicas (issue 17) against a real Patroni 3.0.2 shard of a leader and two replicas in a real etcd:
 * a {@code target_session_attrs: standby} database under read load next to the shard's read-write database
 * under write load. Both replicas serve and the leader none; a replica that falls behind past max_replica_lag
 * gets no new transaction and gets them again once it caught up; a stopped replica leaves the reads to the
 * other. The read-write database sees no error throughout. One cluster, the cases in order.
 *
 * <p>Each read is {@code select inet_server_port()}: the member that served it says so itself. A replica is made
 * to lag by stopping its WAL receiver (SIGSTOP): Patroni's member key carries the larger of the received and
 * replayed LSN, so {@code pg_wal_replay_pause()} alone does not show as lag in the DCS (it does in Patroni's
 * REST {@code /replica?lag=}, which reads the replayed LSN locally).
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ReadReplicasIT {
    private static final Duration PATRONI = Duration.ofSeconds(90);

    static EtcdServer etcd;
    /** A leader and two replicas; the cases run in order on it. */
    static PatroniCluster shard;
    /** Reader threads on the standby database. */
    private static final int READERS = 6;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() throws Exception {
        long t0 = System.nanoTime();
        etcd = EtcdServer.start();
        shard = PatroniCluster.start(etcd, "shard-r", 3);
        try (Connection c = shard.leader().connect(PatroniCluster.APP_DB); Statement st = c.createStatement()) {
            st.execute(ShardLoad.TABLE);
        }
        String backend = "patroni_scope: shard-r, dbname: app, user: postgres, password: postgres";
        turnout = TurnoutFixture.builder()
                .set("etcd", "{ hosts: [\"" + etcd.hostPort() + "\"], namespace: " + shard.namespace() + " }")
                .set("failover_hold_timeout", 60)
                .set("default_pool_size", 4)
                .set("admin_users", "admin")
                .set("metrics_port", 0)
                .user("admin", "admin_pw")
                .rawDatabase("shard_r", backend)
                .rawDatabase("shard_r_ro", backend + ", target_session_attrs: standby, max_replica_lag: 1MB")
                .rawDatabase("shard_r_any", backend + ", target_session_attrs: any")
                .start();
        awaitRoute("both replicas", r -> r.standbys().size() == 2);
        System.out.printf("replicas_setup: etcd, a cluster of 3 and Turnout ready in %d ms%n",
                (System.nanoTime() - t0) / 1_000_000);
    }

    @AfterAll
    static void stop() {
        if (turnout != null) {
            turnout.close();
        }
        if (shard != null) {
            shard.close();
        }
        if (etcd != null) {
            etcd.close();
        }
    }

    @Test
    void readsSpreadOverEligibleReplicasOnlyAndFollowLagAndAStoppedReplica() throws Exception {
        PatroniNode leader = shard.leader();
        List<PatroniNode> replicas = shard.replicas();
        PatroniNode a = replicas.get(0);
        PatroniNode b = replicas.get(1);
        try (ShardLoad writes = new ShardLoad(turnout, "shard_r", 2); ReadLoad reads = new ReadLoad("shard_r_ro")) {
            // both replicas serve, the leader none
            reads.awaitOn(a, 100);
            reads.awaitOn(b, 100);
            writes.awaitCommits(20);
            assertThat(reads.on(leader)).as("reads on the leader").isZero();
            assertThat(reads.failures).as("read failures with both replicas up").isEmpty();
            System.out.printf("replicas_spread: %s=%d %s=%d leader=%d%n", a.name(), reads.on(a), b.name(),
                    reads.on(b), reads.on(leader));
            showsEachMember(leader, a, b);
            try (ReadLoad any = new ReadLoad("shard_r_any", 3)) { // any: the leader and both replicas alike
                for (PatroniNode n : List.of(leader, a, b)) {
                    any.awaitOn(n, 50);
                }
                assertThat(any.failures).isEmpty();
            }

            // a falls behind past max_replica_lag: no new transaction goes there; caught up, it gets them again
            int receiver = walReceiverPid(a);
            signal(receiver, "STOP");
            try {
                long[] switched = {0};
                Await.until(a.name() + " to lag past 1MB in Turnout's route", PATRONI, Duration.ofMillis(50), () -> {
                    if (System.nanoTime() - switched[0] > TimeUnit.SECONDS.toNanos(3)) {
                        switchWal(leader); // again only after a few Patroni loops: the other replica keeps up
                        switched[0] = System.nanoTime();
                    }
                    ReadRoutes.Route r = ro().reads().route();
                    return r.standbys().size() == 1 && r.standbys().get(0).name().equals(b.name());
                }, () -> ro().reads().members() + "\n" + shard.describe());
                long onA = reads.on(a);
                reads.awaitOn(b, 100);
                assertThat(reads.on(a) - onA).as("reads on the lagging replica after it left the route (at most"
                        + " those already under way)").isLessThanOrEqualTo(READERS);
            } finally {
                signal(receiver, "CONT");
            }
            awaitRoute("both replicas after " + a.name() + " caught up", r -> r.standbys().size() == 2);
            reads.awaitOn(a, 100);
            assertThat(reads.failures).as("read failures while a replica lagged").isEmpty();

            // a switchover to a: the old leader joins the reads, a leaves them
            shard.switchover();
            assertThat(shard.leader()).isSameAs(a);
            awaitRoute(leader.name() + " and " + b.name() + " after the switchover", r -> r.standbys().stream()
                    .map(ReadRoutes.Target::name).sorted().toList().equals(List.of(leader.name(), b.name())));
            long onNewLeader = reads.on(a);
            reads.awaitOn(leader, 100);
            reads.awaitOn(b, 100);
            assertThat(reads.on(a) - onNewLeader).as("reads on the new leader after it left the route")
                    .isLessThanOrEqualTo(READERS);
            System.out.printf("replicas_switchover: %s=%d %s=%d %s=%d read_failures=%d write_failures=%d%n",
                    leader.name(), reads.on(leader), a.name(), reads.on(a), b.name(), reads.on(b),
                    reads.failures.size(), writes.failures.size());
            PatroniNode oldLeader = leader;

            // b stops: reads go on on the old leader
            long failuresBefore = reads.failures.size();
            PatroniControl.stopPatroni(b, Duration.ofSeconds(60));
            reads.awaitOn(oldLeader, 200);
            awaitRoute(b.name() + " gone from the route", r -> r.standbys().size() == 1
                    && r.standbys().get(0).name().equals(oldLeader.name()));
            long onB = reads.on(b);
            reads.awaitOn(oldLeader, 100);
            assertThat(reads.on(b)).as("reads on the stopped replica").isEqualTo(onB);
            assertThat(reads.failures.size() - failuresBefore).as("reads that failed as " + b.name() + " stopped: at"
                    + " most those in flight there, " + reads.failures).isLessThanOrEqualTo(READERS);
            assertThat(reads.on(a) - onNewLeader).as("reads on the new leader").isLessThanOrEqualTo(READERS);
            writes.awaitCommits(20);
            assertThat(writes.failures).as("the read-write database throughout").isEmpty();
            System.out.printf("replicas_done: %s=%d %s=%d %s=%d read_failures=%d write_commits=%d%n", a.name(),
                    reads.on(a), b.name(), reads.on(b), oldLeader.name(), reads.on(oldLeader), reads.failures.size(),
                    writes.commits.get());
        }
    }

    /** SHOW TOPOLOGY has a row per member, SHOW SERVERS names the member, /metrics its lag and transactions. */
    static void showsEachMember(PatroniNode leader, PatroniNode a, PatroniNode b) throws Exception {
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            AdminClient.Table all = admin.query("SHOW TOPOLOGY");
            AdminClient.Table topology = new AdminClient.Table(all.columns(), all.types(),
                    all.where("database", "shard_r_ro"));
            assertThat(topology.only("member", leader.name())).containsEntry("routed", "leader")
                    .containsEntry("member_role", "master/running");
            for (PatroniNode r : List.of(a, b)) {
                assertThat(topology.only("member", r.name())).containsEntry("routed", "yes")
                        .containsEntry("member_role", "replica/running").containsKey("lag_bytes");
            }
            assertThat(all.only("database", "shard_r")).containsEntry("member", "");
            List<String> members = admin.query("SHOW SERVERS").where("database", "shard_r_ro").stream()
                    .map(row -> row.get("member")).distinct().toList();
            assertThat(members).as("the members shard_r_ro's servers are on").containsExactlyInAnyOrder(a.name(),
                    b.name());
            assertThat(admin.query("SHOW SERVERS").where("database", "shard_r")).allSatisfy(row ->
                    assertThat(row).containsEntry("member", ""));
        }
        String metrics = MetricsIT.get(turnout, "/metrics").body();
        for (PatroniNode r : List.of(a, b)) {
            assertThat(metrics).contains("turnout_replica_lag_bytes{database=\"shard_r_ro\",member=\"" + r.name() + "\"}")
                    .containsPattern("turnout_replica_transactions_total\\{database=\"shard_r_ro\",member=\""
                            + r.name() + "\"} [1-9]");
        }
    }

    static Database ro() {
        return turnout.server().pools().database("shard_r_ro");
    }

    static void awaitRoute(String what, java.util.function.Predicate<ReadRoutes.Route> which) {
        Await.until("the read route to have " + what, PATRONI, Duration.ofMillis(20), () -> {
            ReadRoutes.Route r = ro().reads().route();
            return r != null && which.test(r);
        }, () -> ro().reads().route() + "\n" + ro().reads().members() + "\n" + shard.describe());
    }

    static int walReceiverPid(PatroniNode n) throws SQLException {
        try (Connection c = n.connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select pid from pg_stat_wal_receiver")) {
            assertThat(rs.next()).as(n.name() + " has a WAL receiver").isTrue();
            return rs.getInt(1);
        }
    }

    /** Moves the leader's LSN to the next WAL segment (16MB on), when anything was written since the last. */
    static void switchWal(PatroniNode leader) {
        try (Connection c = leader.connect("postgres"); Statement st = c.createStatement()) {
            st.execute("select pg_switch_wal()");
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    static void signal(int pid, String sig) throws Exception {
        Process p = new ProcessBuilder("kill", "-" + sig, Integer.toString(pid)).redirectErrorStream(true).start();
        assertThat(p.waitFor()).as("kill -" + sig + " " + pid + ": " + new String(p.getInputStream().readAllBytes()))
                .isZero();
    }

    /** Reader threads running {@code select inet_server_port()} in autocommit, counting reads per server port. */
    static final class ReadLoad implements AutoCloseable {
        final Map<Integer, AtomicLong> byPort = new ConcurrentHashMap<>();
        final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final ExecutorService workers;
        private final String database;

        ReadLoad(String database) {
            this(database, READERS);
        }

        ReadLoad(String database, int threads) {
            this.database = database;
            this.workers = Executors.newFixedThreadPool(threads);
            for (int i = 0; i < threads; i++) {
                workers.submit(this::run);
            }
        }

        private void run() {
            Connection c = null;
            while (running.get()) {
                try {
                    if (c == null) {
                        c = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, database, new Properties());
                    }
                    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select inet_server_port()")) {
                        rs.next();
                        byPort.computeIfAbsent(rs.getInt(1), p -> new AtomicLong()).incrementAndGet();
                    }
                } catch (SQLException e) {
                    if (running.get()) {
                        failures.add(e.getSQLState() + " " + e.getMessage());
                    }
                    close(c);
                    c = null;
                }
            }
            close(c);
        }

        long on(PatroniNode n) {
            AtomicLong v = byPort.get(n.pgPort());
            return v == null ? 0 : v.get();
        }

        void awaitOn(PatroniNode n, long more) {
            long target = on(n) + more;
            Await.until(more + " more reads on " + n.name(), PATRONI, Duration.ofMillis(10), () -> on(n) >= target,
                    () -> "reads by port " + byPort + ", failures " + failures + ", route " + ro().reads().route());
        }

        private static void close(Connection c) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (SQLException ignored) {
                // broken already
            }
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            workers.shutdown();
            workers.awaitTermination(30, TimeUnit.SECONDS);
        }
    }
}
