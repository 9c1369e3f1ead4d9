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
                .set("default_pool_size", 8)
                .set("admin_users", "admin")
                .set("metrics_port", 0)
                .user("admin", "admin_pw")
                .rawDatabase("shard_a", "patroni_scope: shard-a, dbname: app, user: postgres, password: postgres")
                .rawDatabase("shard_b", "patroni_scope: shard-b, dbname: app, user: postgres, password: postgres")
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

    static int port(Connection c) throws SQLException {
        try (ResultSet rs = c.createStatement().executeQuery("select inet_server_port()")) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
