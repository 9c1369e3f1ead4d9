package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.config.testing.ConsulTestServer;
import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.PgShard;
import io.turnout.proxy.testing.ShardLoad;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two shards, each a real PostgreSQL primary with a streaming replica, whose leaders Turnout follows in
 * the Consul test server, all under concurrent write load: an unplanned failover and a planned
 * switchover of shard A leave shard B untouched, fail only transactions that were running on the old
 * leader, and send nothing to the old leader after the swap; Consul down keeps the last topology.
 */
class FailoverIT {
    PgShard shardA;
    PgShard shardB;
    ConsulTestServer consul;
    TurnoutFixture turnout;

    @BeforeEach
    void start() throws Exception {
        shardA = PgShard.start();
        shardB = PgShard.start();
        for (PgShard s : new PgShard[] {shardA, shardB}) {
            s.primary().psql("app", ShardLoad.TABLE);
        }
        consul = ConsulTestServer.start(null);
        publish("shard-a", shardA);
        publish("shard-b", shardB);
        PgServer any = shardA.primary().server();
        turnout = TurnoutFixture.builder(any)
                .set("consul", "{ url: \"" + consul.url() + "\", wait: 30s }")
                .set("failover_hold_timeout", 30)
                .set("switchover_hold_timeout", 30)
                .set("default_pool_size", 8)
                .set("admin_users", "admin")
                .set("metrics_port", 0)
                .user("admin", "admin_pw")
                .rawDatabase("shard_a", "patroni_scope: shard-a, dbname: app, user: postgres, password: postgres")
                .rawDatabase("shard_b", "patroni_scope: shard-b, dbname: app, user: postgres, password: postgres")
                .rawDatabase("session_a", "patroni_scope: shard-a, dbname: app, user: postgres, password: postgres,"
                        + " pool_mode: session")
                .rawDatabase("shard_*", "patroni_scope: \"{db}\", dbname: app, user: postgres, password: postgres")
                .withoutDefaultDatabase()
                .start();
    }

    /** Writes the keys Patroni would: both members, the current primary as leader. */
    void publish(String scope, PgShard shard) {
        consul.patroniMember(scope, shard.primary().name(), shard.primary().host(), shard.primary().port(), "master");
        consul.patroniMember(scope, shard.replica().name(), shard.replica().host(), shard.replica().port(), "replica");
        consul.patroniLeader(scope, shard.primary().name());
    }

    @AfterEach
    void stop() throws Exception {
        if (turnout != null) {
            turnout.close();
        }
        if (consul != null) {
            consul.close();
        }
        for (PgShard s : new PgShard[] {shardA, shardB}) {
            if (s != null) {
                s.close();
            }
        }
    }

    @Test
    void unplannedFailoverHoldsNewTransactionsAndFailsOnlyThoseOnTheDeadLeader() throws Exception {
        int oldPort = shardA.primary().port();
        try (ShardLoad a = new ShardLoad(turnout, "shard_a", 8); ShardLoad b = new ShardLoad(turnout, "shard_b", 4)) {
            a.awaitCommits(200);
            b.awaitCommits(100);
            long bFailuresBefore = b.failures.size();
            shardA.killPrimary();
            long killed = System.nanoTime();
            consul.deleteLeader("shard-a"); // the leader's Consul session expires
            shardA.promoteReplica();
            long keyWritten = System.nanoTime();
            consul.patroniMember("shard-a", shardA.primary().name(), shardA.primary().host(), shardA.primary().port(),
                    "master");
            consul.patroniLeader("shard-a", shardA.primary().name());
            long first = a.firstCommitOn(shardA.primary().port(), keyWritten);
            assertThat(first).as("a transaction commits on the new leader").isPositive();
            a.awaitCommits(200);
            b.awaitCommits(100);
            long swapMs = (first - keyWritten) / 1_000_000;
            System.out.printf("failover: swap_ms=%d errors_outside_tx=%d errors_in_flight=%d%n", swapMs,
                    a.failuresBeganAfter(killed), a.failures.size() - a.failuresBeganAfter(killed));
            assertThat(a.failuresBeganAfter(killed)).as("transactions begun after the kill: " + a.failures).isZero();
            assertThat(b.failures.size()).as("shard B untouched: " + b.failures).isEqualTo(bFailuresBefore);
            assertThat(swapMs).as("swap time").isLessThan(2000);
        }
        assertThat(oldPort).isNotEqualTo(shardA.primary().port());
    }

    @Test
    void plannedSwitchoverSendsNothingToTheOldPrimaryAfterTheSwap() throws Exception {
        int oldPort = shardA.primary().port();
        try (ShardLoad a = new ShardLoad(turnout, "shard_a", 8); ShardLoad b = new ShardLoad(turnout, "shard_b", 4)) {
            a.awaitCommits(200);
            b.awaitCommits(100);
            // Patroni's order: the leader key goes, the old primary shuts down and the candidate promotes,
            // the new leader takes the key, the old primary comes back as a replica
            consul.deleteLeader("shard-a");
            // transactions that began before Turnout saw the key go ran on the old leader and are fenced
            assertThat(awaitNoLeader("shard_a")).isTrue();
            long swapStarted = System.nanoTime();
            // transactions already sent run on (and may commit late: the backend's clock_timestamp() is taken when
            // it gets the CPU, tens of ms after under CI load); new ones are held from here, so once commits stop
            // nothing may reach the old primary any more
            awaitQuiet(a);
            java.time.Instant swapWallClock = java.time.Instant.now();
            shardA.switchover();
            long keyWritten = System.nanoTime();
            consul.patroniMember("shard-a", shardA.primary().name(), shardA.primary().host(), shardA.primary().port(),
                    "master");
            consul.patroniMember("shard-a", shardA.replica().name(), shardA.replica().host(), shardA.replica().port(),
                    "replica");
            consul.patroniLeader("shard-a", shardA.primary().name());
            long first = a.firstCommitOn(shardA.primary().port(), keyWritten);
            assertThat(first).isPositive();
            a.awaitCommits(300);
            System.out.printf("switchover: swap_ms=%d failures=%d%n", (first - keyWritten) / 1_000_000, a.failures.size());
            assertThat(a.failuresBeganAfter(swapStarted)).as("transactions begun after the swap: " + a.failures).isZero();
            assertThat(b.failures).isEmpty();
            assertThat(shardA.replica().port()).isEqualTo(oldPort);
            assertThat(shardA.replica().isInRecovery()).isTrue();
            // the new primary has every row (the old one's replicated before it stopped): none after the swap on the old port
            String late = shardA.primary().psql("app", "select count(*) from fo_log where port = " + oldPort
                    + " and ts > '" + swapWallClock + "'").trim();
            assertThat(late).isEqualTo("0");
        }
    }

    /**
     * Patroni's planned switchover as it happens: the failover key first, then (after the candidate check
     * and a CHECKPOINT) the old primary stops, the leader key goes, the candidate promotes and takes it, and
     * cleans the failover key up. Turnout drains at the failover key: nothing fails.
     */
    @Test
    void switchoverAnnouncedInTheFailoverKeyFailsNoTransaction() throws Exception {
        int oldPort = shardA.primary().port();
        try (ShardLoad a = new ShardLoad(turnout, "shard_a", 8); ShardLoad b = new ShardLoad(turnout, "shard_b", 4);
                AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            a.awaitCommits(200);
            b.awaitCommits(100);
            // a transaction still open on the old leader when it stops is told why
            Connection open = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "shard_a", new Properties());
            open.setAutoCommit(false);
            open.createStatement().execute("insert into fo_log (worker, port, ts) values (-1, inet_server_port(), now())");
            Connection session = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "session_a", new Properties());
            int sessionPid = pid(session);
            consul.put("service/shard-a/failover", "{\"leader\":\"" + shardA.primary().name() + "\",\"member\":\""
                    + shardA.replica().name() + "\"}");
            long announced = System.nanoTime();
            Map<String, String> row = awaitTopology(admin, "shard_a", "draining");
            assertThat(row.get("candidate")).isEqualTo(shardA.replica().name());
            long drainSeenMs = (System.nanoTime() - announced) / 1_000_000;
            assertThat(turnout.server().readiness()).as("/ready stays 200 while a shard drains").isEmpty();
            long held = awaitQuiet(a); // transactions that began before the drain finish
            java.time.Instant drained = java.time.Instant.now();
            Thread.sleep(700); // Patroni's candidate check and CHECKPOINT: nothing starts on the old leader
            assertThat(a.commits.get()).as("no commit while draining").isEqualTo(held);
            assertThat(pid(session)).as("a session-mode client keeps its server while the leader drains")
                    .isEqualTo(sessionPid);
            // the held clients' servers log in to the candidate ahead of its promotion (not just one probe per loop;
            // workers: 2), and none serves a transaction while it is a standby; at least 4 whatever the loops the
            // 8 clients are on (a loop logs in its share of the pool, 4, or one per waiter)
            List<Map<String, String>> ahead = awaitServersOn(admin, "shard_a", shardA.replica().port(), 4);
            assertThat(ahead).allSatisfy(r -> assertThat(r.get("link")).as("linked to a client").isEmpty());
            String pids = ahead.stream().map(r -> r.get("remote_pid")).collect(java.util.stream.Collectors.joining(","));
            // beside each loop's probe they are set up for the held clients' parameters while they wait
            String app = shardA.primary().psql("app", "select application_name from pg_stat_activity where pid = "
                    + sessionPid).trim();
            io.turnout.proxy.testing.Await.until("servers logged in ahead set up for the clients (application_name "
                    + app + ")", java.time.Duration.ofSeconds(15), () -> Integer.parseInt(shardA.replica().psql("app",
                    "select count(*) from pg_stat_activity where application_name = '" + app + "' and pid in (" + pids
                    + ")").trim()) >= 2);
            assertThat(a.commits.get()).as("no commit while draining").isEqualTo(held);
            java.time.Instant switching = java.time.Instant.now();
            shardA.switchover();
            // Turnout logged in to the candidate while the leader drained and asked it every few ms whether it had
            // left recovery: it serves there from the promotion on, before any leader key names it
            long beforeKeys = System.nanoTime();
            assertThat(a.firstCommitOn(shardA.primary().port(), announced)).as("a commit on the promoted candidate "
                    + "before the leader key names it").isPositive().isLessThan(beforeKeys);
            assertThatThrownBy(() -> open.createStatement().execute("select 1")).isInstanceOf(SQLException.class)
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("08006"))
                    .hasMessageContaining("was switched over to " + shardA.primary().name());
            open.close();
            assertThatThrownBy(() -> pid(session)).isInstanceOf(SQLException.class)
                    .hasMessageContaining("was switched over");
            session.close();
            consul.deleteLeader("shard-a");
            long keyWritten = System.nanoTime();
            publish("shard-a", shardA);
            consul.put("service/shard-a/failover", "{}");
            long first = a.firstCommitOn(shardA.primary().port(), keyWritten);
            assertThat(first).isPositive();
            a.awaitCommits(200);
            b.awaitCommits(100);
            System.out.printf("switchover_consul: drain_seen_ms=%d held_ms=%d turnout_ms=%d failures=%d%n", drainSeenMs,
                    (first - announced) / 1_000_000, (first - keyWritten) / 1_000_000, a.failures.size());
            assertThat(a.failures).as("shard A").isEmpty();
            assertThat(b.failures).as("shard B").isEmpty();
            String late = shardA.primary().psql("app", "select count(*) from fo_log where port = " + oldPort
                    + " and ts > '" + drained + "'").trim();
            assertThat(late).as("transactions on the old leader after it drained").isEqualTo("0");
            assertThat(Integer.parseInt(shardA.primary().psql("app", "select count(*) from pg_stat_activity where pid in ("
                    + pids + ") and state_change > '" + switching + "'").trim()))
                    .as("servers logged in ahead that served after the promotion").isGreaterThanOrEqualTo(3);
            assertThat(metric("turnout_switchovers_total{database=\"shard_a\",result=\"completed\"}")).isEqualTo(1.0);
        }
    }

    /**
     * A switchover Patroni refuses (candidate unhealthy: it deletes the key) gives the old leader back with
     * no error; one that never completes ends at switchover_hold_timeout with 08006 naming the shard, and the
     * old leader, which still holds the leader key, serves again.
     */
    @Test
    void refusedOrTimedOutSwitchoverGivesTheOldLeaderBack() throws Exception {
        String request = "{\"leader\":\"" + shardA.primary().name() + "\",\"member\":\"" + shardA.replica().name() + "\"}";
        try (ShardLoad a = new ShardLoad(turnout, "shard_a", 4); AdminClient admin = new AdminClient(turnout, "admin",
                "admin_pw")) {
            a.awaitCommits(100);
            consul.put("service/shard-a/failover", request);
            awaitTopology(admin, "shard_a", "draining");
            Thread.sleep(500);
            consul.delete("service/shard-a/failover");
            awaitTopology(admin, "shard_a", "leader");
            a.awaitCommits(100);
            assertThat(a.failures).as("refused switchover").isEmpty();
            assertThat(a.firstCommitOn(shardA.primary().port(), System.nanoTime())).isPositive();

            java.nio.file.Path file = turnout.dir().resolve("turnout.yaml");
            java.nio.file.Files.writeString(file, java.nio.file.Files.readString(file)
                    .replace("switchover_hold_timeout: 30", "switchover_hold_timeout: 3"));
            admin.execute("RELOAD");
            consul.put("service/shard-a/failover", request.replace("}", ",\"scheduled_at\":\"2000-01-01T00:00:00+00:00\"}"));
            awaitTopology(admin, "shard_a", "draining");
            awaitTopology(admin, "shard_a", "leader"); // switchover_hold_timeout: 3 s
            a.awaitCommits(100);
            // Held, then failed at the timeout: each waited about the 3 s hold. (When it began says nothing: the
            // held transactions may all have begun before the test's poll saw the shard draining.)
            assertThat(a.failures).as("held transactions fail at the timeout").isNotEmpty()
                    .allSatisfy(f -> assertThat(f.error()).startsWith("08006").contains("switchover_hold_timeout")
                            .contains("shard_a"))
                    .allSatisfy(f -> assertThat(f.waitedMillis()).as("held before failing").isGreaterThan(2_500));
            assertThat(metric("turnout_switchovers_total{database=\"shard_a\",result=\"cancelled\"}")).isEqualTo(1.0);
            assertThat(metric("turnout_switchovers_total{database=\"shard_a\",result=\"timed_out\"}")).isEqualTo(1.0);
        }
    }

    /** Waits until {@code db} has at least {@code n} servers logged in to the PostgreSQL on {@code port}; returns them. */
    static List<Map<String, String>> awaitServersOn(AdminClient admin, String db, int port, int n) throws Exception {
        long deadline = System.nanoTime() + 15_000_000_000L;
        List<Map<String, String>> on;
        do {
            on = admin.query("SHOW SERVERS").where("database", db).stream()
                    .filter(r -> r.get("port").equals(Integer.toString(port)) && !r.get("state").equals("new")).toList();
            if (on.size() >= n) {
                return on;
            }
            Thread.sleep(5);
        } while (System.nanoTime() < deadline);
        throw new AssertionError(db + " has " + on.size() + " servers to port " + port + ", expected " + n + ": " + on);
    }

    Map<String, String> awaitTopology(AdminClient admin, String db, String state) throws Exception {
        long deadline = System.nanoTime() + 15_000_000_000L;
        Map<String, String> row;
        do {
            row = admin.query("SHOW TOPOLOGY").only("database", db);
            if (row.get("state").equals(state)) {
                return row;
            }
            Thread.sleep(5);
        } while (System.nanoTime() < deadline);
        throw new AssertionError(db + " never reached state " + state + ": " + row);
    }

    double metric(String series) throws Exception {
        String body = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + turnout.server().httpPort() + "/metrics")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        return body.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(
                l.substring(series.length() + 1).trim())).findFirst().orElseThrow(() -> new AssertionError(
                series + " not in /metrics"));
    }

    @Test
    void consulDownKeepsTheLastTopologyAndMarksItStale() throws Exception {
        try (ShardLoad a = new ShardLoad(turnout, "shard_a", 4); AdminClient admin = new AdminClient(turnout, "admin",
                "admin_pw")) {
            a.awaitCommits(100);
            consul.stop();
            long deadline = System.nanoTime() + 10_000_000_000L;
            Map<String, String> row;
            do {
                row = admin.query("SHOW TOPOLOGY").only("database", "shard_a");
                Thread.sleep(50);
            } while (!row.get("stale").equals("1") && System.nanoTime() < deadline);
            assertThat(row.get("stale")).isEqualTo("1");
            assertThat(row.get("leader")).isEqualTo("127.0.0.1:" + shardA.primary().port());
            a.awaitCommits(300);
            try (Connection c = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "shard_b", new Properties())) {
                assertThat(port(c)).isEqualTo(shardB.primary().port());
            }
            consul.start();
            deadline = System.nanoTime() + 15_000_000_000L;
            do {
                row = admin.query("SHOW TOPOLOGY").only("database", "shard_a");
                Thread.sleep(50);
            } while (!row.get("stale").equals("0") && System.nanoTime() < deadline);
            assertThat(row.get("stale")).isEqualTo("0");
            a.awaitCommits(100);
            assertThat(a.failures).isEmpty();
        }
    }

    @Test
    void readyFollowsLeadersIndexResetsAreSurvivedAndNewScopesBecomeDatabases() throws Exception {
        assertThat(awaitReady(true)).isTrue();
        Thread.sleep(300); // the watches are blocked on their index by now
        consul.resetIndex(1); // Consul restored from a snapshot: the index goes backwards
        consul.deleteLeader("shard-b");
        assertThat(awaitReady(false)).as("/ready fails without a leader for shard_b").isTrue();
        assertThat(turnout.server().readiness()).contains("no leader for database shard_b");
        var ready = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + turnout.server().httpPort() + "/ready")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(ready.statusCode()).isEqualTo(503);
        assertThat(ready.body()).contains("no leader for database shard_b");
        consul.patroniLeader("shard-b", shardB.primary().name());
        assertThat(awaitReady(true)).isTrue();

        assertThatThrownBy(() -> turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "shard_zzz",
                new Properties())).isInstanceOf(SQLException.class).hasMessageContaining("does not exist");
        publish("shard_c", shardB); // a new Patroni cluster appears: no reload
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            try (Connection c = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "shard_c",
                    new Properties())) {
                assertThat(port(c)).isEqualTo(shardB.primary().port());
                break;
            } catch (SQLException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    boolean awaitNoLeader(String db) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (turnout.server().readiness().contains("no leader for database " + db)) {
                return true;
            }
            Thread.sleep(0, 200_000);
        }
        return false;
    }

    /** Waits until {@code load} has committed nothing for 300 ms (at most 20 s); returns its commit count. */
    static long awaitQuiet(ShardLoad load) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        long seen = load.commits.get();
        long quietSince = System.nanoTime();
        while (System.nanoTime() < deadline) {
            Thread.sleep(20);
            long now = load.commits.get();
            if (now != seen) {
                seen = now;
                quietSince = System.nanoTime();
            } else if (System.nanoTime() - quietSince >= 300_000_000L) {
                return now;
            }
        }
        throw new AssertionError("commits did not stop within 20 s of the drain: " + seen);
    }

    boolean awaitReady(boolean ready) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (turnout.server().readiness().isEmpty() == ready) {
                return true;
            }
            Thread.sleep(20);
        }
        return false;
    }

    static int pid(Connection c) throws SQLException {
        try (ResultSet rs = c.createStatement().executeQuery("select pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    static int port(Connection c) throws SQLException {
        try (ResultSet rs = c.createStatement().executeQuery("select inet_server_port()")) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
