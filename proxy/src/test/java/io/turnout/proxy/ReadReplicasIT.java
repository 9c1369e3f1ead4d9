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
import io.turnout.proxy.testing.ReadLoad;
import io.turnout.proxy.testing.ShardLoad;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Reads on replicas (issue 17) against a real Patroni 3.0.2 shard of a leader and two replicas in a real etcd:
 * a {@code target_session_attrs: standby} database under read load next to the shard's read-write database
 * under write load. Both replicas serve and the leader none; a replica that falls behind past max_replica_lag
 * gets no new transaction and gets them again once it caught up; a stopped replica leaves the reads to the
 * other. With no eligible replica at all, {@code prefer-standby} reads from the leader and {@code standby} holds
 * up to failover_hold_timeout, then fails with 08006 naming the shard (or serves the held client when a replica
 * comes back first). The read-write database sees no error throughout. One cluster for every case; each case
 * works with the members running when it starts, and the one that stops a replica runs last.
 *
 * <p>Each read is {@code select inet_server_port()}: the member that served it says so itself. A replica is made
 * to lag by stopping its WAL receiver (SIGSTOP): Patroni's member key carries the larger of the received and
 * replayed LSN, so {@code pg_wal_replay_pause()} alone does not show as lag in the DCS (it does in Patroni's
 * REST {@code /replica?lag=}, which reads the replayed LSN locally).
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReadReplicasIT {
    private static final Duration PATRONI = Duration.ofSeconds(90);
    /** failover_hold_timeout while no replica is eligible: short, so the 08006 comes soon. */
    private static final int SHORT_HOLD_SECONDS = 3;

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
                .set("switchover_hold_timeout", 60) // not the failover hold, which a case shortens
                .set("default_pool_size", 4)
                .set("admin_users", "admin")
                .set("metrics_port", 0)
                .user("admin", "admin_pw")
                .rawDatabase("shard_r", backend)
                .rawDatabase("shard_r_ro", backend + ", target_session_attrs: standby, max_replica_lag: 1MB")
                .rawDatabase("shard_r_pref", backend + ", target_session_attrs: prefer-standby, max_replica_lag: 1MB")
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

    /**
     * Every replica's WAL receiver stopped, so all lag past max_replica_lag: prefer-standby reads go to the leader
     * with no error; a standby read is held for failover_hold_timeout (3 s here), then fails with 08006 naming the
     * database and the Patroni scope; a standby read held while a replica catches up is served by it.
     */
    @Test
    @Order(1)
    void withNoEligibleReplicaPreferStandbyReadsTheLeaderAndStandbyHoldsThenFails() throws Exception {
        PatroniNode leader = shard.leader();
        List<PatroniNode> replicas = shard.replicas().stream().filter(PatroniNode::isPatroniRunning).toList();
        assertThat(replicas).as("running replicas").isNotEmpty();
        awaitRoute("every running replica", r -> r.standbys().size() == replicas.size());
        try (ShardLoad writes = new ShardLoad(turnout, "shard_r", 2); ReadLoad pref = reads("shard_r_pref", 4)) {
            for (PatroniNode r : replicas) {
                awaitOn(pref, r, 50);
            }
            assertThat(pref.on(leader.pgPort())).as("prefer-standby reads on the leader while replicas serve").isZero();
            List<Integer> replicaPorts = replicas.stream().map(PatroniNode::pgPort).toList();
            // a standby read logs its client in with the welcome of a replica's server, cached from now on
            assertThat(ReadLoad.readOnce(turnout, "shard_r_ro")).as("a standby read's server").isIn(replicaPorts);
            List<Integer> receivers = new ArrayList<>();
            for (PatroniNode r : replicas) {
                receivers.add(walReceiverPid(r));
            }
            receivers.forEach(pid -> signal(pid, "STOP"));
            try {
                awaitLagging(leader, "shard_r_ro", r -> r.standbys().isEmpty() && r.holdReason() != null);
                awaitLagging(leader, "shard_r_pref", r -> r.standbys().isEmpty() && r.leader());

                // prefer-standby: the leader serves, nothing fails
                long onLeader = pref.on(leader.pgPort());
                awaitOn(pref, leader, 100);
                System.out.printf("replicas_none_eligible: prefer-standby reads on the leader %d, failures %d%n",
                        pref.on(leader.pgPort()) - onLeader, pref.failures.size());
                assertThat(pref.failures).as("prefer-standby reads without an eligible replica").isEmpty();
                assertCounted("shard_r_pref", leader); // the leader's reads, under its member name

                // standby: held for failover_hold_timeout, then 08006 naming the shard
                setHoldTimeout(SHORT_HOLD_SECONDS);
                long t0 = System.nanoTime();
                SQLException held = null;
                try {
                    ReadLoad.readOnce(turnout, "shard_r_ro");
                } catch (SQLException e) {
                    held = e;
                }
                long waitedMs = (System.nanoTime() - t0) / 1_000_000;
                System.out.printf("replicas_standby_hold: waited_ms=%d error=%s%n", waitedMs,
                        held == null ? null : held.getSQLState() + " " + held.getMessage());
                assertThat((Object) held).as("a standby read with no eligible replica").isNotNull();
                assertThat(held.getSQLState()).isEqualTo("08006");
                assertThat(held.getMessage()).contains("failover_hold_timeout", "shard_r_ro", "Patroni scope shard-r");
                assertThat(waitedMs).as("held before failing").isGreaterThanOrEqualTo(SHORT_HOLD_SECONDS * 1000L - 500);

                // a standby read held while a replica catches up is served by it
                setHoldTimeout(60);
                CompletableFuture<Integer> rescued = CompletableFuture.supplyAsync(() -> {
                    try {
                        return ReadLoad.readOnce(turnout, "shard_r_ro");
                    } catch (SQLException e) {
                        throw new AssertionError(e.getSQLState() + " " + e.getMessage(), e);
                    }
                });
                try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
                    Await.until("a held shard_r_ro client", PATRONI, () -> {
                        if (rescued.isDone()) {
                            throw new Await.Abort("the read ended before it was seen held: " + rescued);
                        }
                        return waiting(admin) > 0;
                    });
                }
                receivers.forEach(pid -> signal(pid, "CONT"));
                int port = rescued.get(PATRONI.toSeconds(), TimeUnit.SECONDS);
                assertThat(port).as("the held read's server").isIn(replicaPorts);
            } finally {
                receivers.forEach(pid -> kill(pid, "CONT"));
                setHoldTimeout(60);
            }
            awaitRoute("every replica after they caught up", r -> r.standbys().size() == replicas.size());
            for (PatroniNode r : replicas) {
                awaitOn(pref, r, 50);
            }
            writes.awaitCommits(20);
            assertThat(pref.failures).as("prefer-standby reads throughout").isEmpty();
            assertThat(writes.failures).as("the read-write database throughout").isEmpty();
        }
    }

    @Test
    @Order(2) // stops a replica for good
    void readsSpreadOverEligibleReplicasOnlyAndFollowLagAndAStoppedReplica() throws Exception {
        PatroniNode leader = shard.leader();
        List<PatroniNode> replicas = shard.replicas();
        PatroniNode a = replicas.get(0);
        PatroniNode b = replicas.get(1);
        try (ShardLoad writes = new ShardLoad(turnout, "shard_r", 2); ReadLoad reads = reads("shard_r_ro", READERS)) {
            // both replicas serve, the leader none
            awaitOn(reads, a, 100);
            awaitOn(reads, b, 100);
            writes.awaitCommits(20);
            assertThat(reads.on(leader.pgPort())).as("reads on the leader").isZero();
            assertThat(reads.failures).as("read failures with both replicas up").isEmpty();
            System.out.printf("replicas_spread: %s=%d %s=%d leader=%d%n", a.name(), reads.on(a.pgPort()), b.name(),
                    reads.on(b.pgPort()), reads.on(leader.pgPort()));
            showsEachMember(leader, a, b);
            try (ReadLoad any = reads("shard_r_any", 3)) { // any: the leader and both replicas alike
                for (PatroniNode n : List.of(leader, a, b)) {
                    awaitOn(any, n, 50);
                }
                assertThat(any.failures).isEmpty();
                // the leader is a member of this route: its transactions and servers are named like the standbys'
                assertCounted("shard_r_any", leader);
                try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
                    assertThat(admin.query("SHOW SERVERS").where("database", "shard_r_any").stream()
                            .map(row -> row.get("member")).distinct().toList())
                            .as("the members shard_r_any's servers are on").containsExactlyInAnyOrder(leader.name(),
                                    a.name(), b.name());
                }
            }

            // a falls behind past max_replica_lag: no new transaction goes there; caught up, it gets them again
            int receiver = walReceiverPid(a);
            signal(receiver, "STOP");
            try {
                awaitLagging(leader, "shard_r_ro", r -> r.standbys().size() == 1
                        && r.standbys().get(0).name().equals(b.name()));
                long onA = reads.on(a.pgPort());
                awaitOn(reads, b, 100);
                assertThat(reads.on(a.pgPort()) - onA).as("reads on the lagging replica after it left the route (at most"
                        + " those already under way)").isLessThanOrEqualTo(READERS);
            } finally {
                signal(receiver, "CONT");
            }
            awaitRoute("both replicas after " + a.name() + " caught up", r -> r.standbys().size() == 2);
            awaitOn(reads, a, 100);
            assertThat(reads.failures).as("read failures while a replica lagged").isEmpty();

            // a switchover to a: the old leader joins the reads, a leaves them
            shard.switchover();
            assertThat(shard.leader()).isSameAs(a);
            awaitRoute(leader.name() + " and " + b.name() + " after the switchover", r -> r.standbys().stream()
                    .map(ReadRoutes.Target::name).sorted().toList().equals(List.of(leader.name(), b.name())));
            long onNewLeader = reads.on(a.pgPort());
            awaitOn(reads, leader, 100);
            awaitOn(reads, b, 100);
            assertThat(reads.on(a.pgPort()) - onNewLeader).as("reads on the new leader after it left the route")
                    .isLessThanOrEqualTo(READERS);
            System.out.printf("replicas_switchover: %s=%d %s=%d %s=%d read_failures=%d write_failures=%d%n",
                    leader.name(), reads.on(leader.pgPort()), a.name(), reads.on(a.pgPort()), b.name(), reads.on(b.pgPort()),
                    reads.failures.size(), writes.failures.size());
            PatroniNode oldLeader = leader;

            // b stops: reads go on on the old leader
            long failuresBefore = reads.failures.size();
            PatroniControl.stopPatroni(b, Duration.ofSeconds(60));
            awaitOn(reads, oldLeader, 200);
            awaitRoute(b.name() + " gone from the route", r -> r.standbys().size() == 1
                    && r.standbys().get(0).name().equals(oldLeader.name()));
            long onB = reads.on(b.pgPort());
            awaitOn(reads, oldLeader, 100);
            assertThat(reads.on(b.pgPort())).as("reads on the stopped replica").isEqualTo(onB);
            assertThat(reads.failures.size() - failuresBefore).as("reads that failed as " + b.name() + " stopped: at"
                    + " most those in flight there, " + reads.failures).isLessThanOrEqualTo(READERS);
            assertThat(reads.on(a.pgPort()) - onNewLeader).as("reads on the new leader").isLessThanOrEqualTo(READERS);
            writes.awaitCommits(20);
            assertThat(writes.failures).as("the read-write database throughout").isEmpty();
            System.out.printf("replicas_done: %s=%d %s=%d %s=%d read_failures=%d write_commits=%d%n", a.name(),
                    reads.on(a.pgPort()), b.name(), reads.on(b.pgPort()), oldLeader.name(), reads.on(oldLeader.pgPort()), reads.failures.size(),
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
                        .containsEntry("member_role", "replica/running")
                        .hasEntrySatisfying("lag_bytes", lag -> assertThat(lag).as("lag of " + r.name()).matches("\\d+"));
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
            assertThat(metrics).contains("turnout_replica_lag_bytes{database=\"shard_r_ro\",member=\"" + r.name() + "\"}");
            assertCounted("shard_r_ro", r);
        }
    }

    /** /metrics counts transactions of {@code database} served by member {@code n}. */
    static void assertCounted(String database, PatroniNode n) throws Exception {
        assertThat(MetricsIT.get(turnout, "/metrics").body()).as(database + " transactions on " + n.name())
                .containsPattern("turnout_replica_transactions_total\\{database=\"" + database + "\",member=\""
                        + n.name() + "\"} [1-9]");
    }

    static Database ro() {
        return turnout.server().pools().database("shard_r_ro");
    }

    static ReadLoad reads(String database, int threads) {
        Database db = turnout.server().pools().database(database);
        return new ReadLoad(turnout, database, threads, () -> "route " + db.reads().route() + "\n" + shard.describe());
    }

    static void awaitOn(ReadLoad reads, PatroniNode n, long more) {
        reads.awaitOn(n.pgPort(), n.name(), more);
    }

    static void awaitRoute(String what, Predicate<ReadRoutes.Route> which) {
        Await.until("the read route to have " + what, PATRONI, Duration.ofMillis(20), () -> {
            ReadRoutes.Route r = ro().reads().route();
            return r != null && which.test(r);
        }, () -> ro().reads().route() + "\n" + ro().reads().members() + "\n" + shard.describe());
    }

    /**
     * Waits until {@code database}'s route, with WAL receivers stopped, satisfies {@code which}: the leader moves to
     * the next WAL segment every few Patroni loops, so a stopped receiver's member falls 16MB behind while one that
     * streams keeps up.
     */
    static void awaitLagging(PatroniNode leader, String database, Predicate<ReadRoutes.Route> which) {
        Database db = turnout.server().pools().database(database);
        long[] switched = {0};
        Await.until(database + "'s route to leave lagging replicas out", PATRONI, Duration.ofMillis(50), () -> {
            if (System.nanoTime() - switched[0] > TimeUnit.SECONDS.toNanos(3)) {
                switchWal(leader);
                switched[0] = System.nanoTime();
            }
            ReadRoutes.Route r = db.reads().route();
            return r != null && which.test(r);
        }, () -> db.reads().route() + "\n" + db.reads().members() + "\n" + shard.describe());
    }

    /** Clients of shard_r_ro waiting for a server, by SHOW POOLS. */
    static int waiting(AdminClient admin) {
        try {
            return admin.query("SHOW POOLS").where("database", "shard_r_ro").stream()
                    .mapToInt(row -> Integer.parseInt(row.get("cl_waiting"))).sum();
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    /** failover_hold_timeout in turnout.yaml, then RELOAD. */
    static void setHoldTimeout(int seconds) throws Exception {
        Path file = turnout.dir().resolve("turnout.yaml");
        Files.writeString(file, Files.readString(file).replaceFirst("(?m)^failover_hold_timeout: \\d+$",
                "failover_hold_timeout: " + seconds));
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            admin.execute("RELOAD");
        }
        Database ro = ro();
        Await.until("failover_hold_timeout " + seconds + " s in force", PATRONI,
                () -> ro.settings().failoverHoldTimeout().equals(Duration.ofSeconds(seconds)));
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

    /** kill -SIG pid; fails unless the process was there to get it. */
    static void signal(int pid, String sig) {
        assertThat(kill(pid, sig)).as("kill -" + sig + " " + pid).isTrue();
    }

    /** kill -SIG pid; false when there was no such process (a WAL receiver that exited meanwhile). */
    static boolean kill(int pid, String sig) {
        try {
            return new ProcessBuilder("kill", "-" + sig, Integer.toString(pid)).redirectErrorStream(true).start()
                    .waitFor() == 0;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
