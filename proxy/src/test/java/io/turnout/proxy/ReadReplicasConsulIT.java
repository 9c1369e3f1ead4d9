package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.testing.ConsulTestServer;
import io.turnout.proxy.pool.Database;
import io.turnout.proxy.pool.ReadRoutes;
import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.Await;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.PgShard;
import io.turnout.proxy.testing.ReadLoad;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Reads on replicas (issue 17) through the Consul source and the wildcard form {@code "shard_*_ro": {
 * patroni_scope: "{db}", target_session_attrs: standby }}, next to {@code "shard_*"} for the leader: a client of
 * {@code shard_c_ro} reads from the standbys that Patroni's keys in Consul (the in-repo Consul test server) publish
 * for scope {@code shard_c}, and a standby removed from or added to Consul leaves or joins the reads with the one
 * watch event that carries the change (nothing else writes to this Consul).
 *
 * <p>Real PostgreSQL behind the keys: {@code node1} primary and leader, {@code node2} and {@code node3} standbys
 * streaming from it (pg_basebackup -R), and a member {@code ghost} published as a replica whose conn_url is the
 * primary's: Turnout's login check finds it is no standby and keeps it out, so not one read lands on the primary.
 * Last, node3's PostgreSQL crashes with its key left as it was: only the reads in flight there fail. Each read is {@code select inet_server_port()}: the server that served it says so itself.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ReadReplicasConsulIT {
    private static final String SCOPE = "shard_c";
    private static final int READERS = 4;
    private static final Duration AWAIT = Duration.ofSeconds(60);

    static PgShard shard;
    static PgServer node3;
    static ConsulTestServer consul;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() throws Exception {
        shard = PgShard.start();
        node3 = shard.startStandby("node3");
        consul = ConsulTestServer.start(null);
        PgShard.Node primary = shard.primary();
        consul.patroniMember(SCOPE, primary.name(), primary.host(), primary.port(), "master");
        consul.patroniMember(SCOPE, shard.replica().name(), shard.replica().host(), shard.replica().port(), "replica");
        publishNode3();
        consul.patroniMember(SCOPE, "ghost", primary.host(), primary.port(), "replica");
        consul.patroniLeader(SCOPE, primary.name());
        String backend = "patroni_scope: \"{db}\", dbname: app, user: postgres, password: postgres";
        turnout = TurnoutFixture.builder()
                .set("consul", "{ url: \"" + consul.url() + "\", wait: 30s }")
                .set("failover_hold_timeout", 30)
                .set("default_pool_size", 4)
                .set("admin_users", "admin")
                .user("admin", "admin_pw")
                .rawDatabase("shard_*", backend)
                .rawDatabase("shard_*_ro", backend + ", target_session_attrs: standby")
                .start();
    }

    @AfterAll
    static void stop() {
        if (turnout != null) {
            turnout.close();
        }
        if (consul != null) {
            consul.close();
        }
        if (node3 != null) {
            node3.close();
        }
        if (shard != null) {
            shard.close();
        }
    }

    static void publishNode3() {
        consul.patroniMember(SCOPE, "node3", node3.host(), node3.port(), "replica");
    }

    @Test
    void wildcardReadDatabaseFollowsTheStandbysPublishedInConsul() throws Exception {
        int leaderPort = shard.primary().port();
        int node2Port = shard.replica().port();
        String node2 = shard.replica().name();
        // the leader database of the same shard, through the shorter pattern
        assertThat(firstRead("shard_c")).as("shard_c's server").isEqualTo(leaderPort);
        assertThat(firstRead("shard_c_ro")).as("shard_c_ro's server").isIn(node2Port, node3.port());
        Database ro = turnout.server().pools().database("shard_c_ro");
        assertThat(ro.config().patroniScope()).isEqualTo(SCOPE);
        try (ReadLoad reads = new ReadLoad(turnout, "shard_c_ro", READERS, () -> describe(ro))) {
            reads.awaitOn(node2Port, node2, 50);
            reads.awaitOn(node3.port(), "node3", 50);
            awaitRoute(ro, "node2 and node3 (ghost refused at login)", List.of(node2, "node3"));
            try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
                var rows = new AdminClient.Table(List.of(), List.of(), admin.query("SHOW TOPOLOGY")
                        .where("database", "shard_c_ro"));
                assertThat(rows.only("member", "ghost").get("routed")).startsWith("refused at login");
                assertThat(rows.only("member", "node3")).containsEntry("routed", "yes");
            }
            assertThat(reads.on(leaderPort)).as("reads on the primary, as leader or as ghost").isZero();
            System.out.printf("replicas_consul: %s=%d node3=%d primary=%d failures=%d%n", node2, reads.on(node2Port),
                    reads.on(node3.port()), reads.on(leaderPort), reads.failures.size());

            // node3's key goes (its Patroni stopped, its session expired): no new transaction goes there
            consul.delete(consul.patroni().memberKey(SCOPE, "node3"));
            awaitRoute(ro, "node2 alone after node3's key was deleted", List.of(node2));
            long onNode3 = reads.on(node3.port());
            reads.awaitOn(node2Port, node2, 100);
            assertThat(reads.on(node3.port()) - onNode3).as("reads on node3 after it left the route (at most those"
                    + " already under way)").isLessThanOrEqualTo(READERS);

            // published again: it takes reads again
            publishNode3();
            awaitRoute(ro, "node2 and node3 again", List.of(node2, "node3"));
            reads.awaitOn(node3.port(), "node3", 50);
            assertThat(reads.failures).as("read failures").isEmpty();

            // node3's PostgreSQL crashes while its key still says running (Patroni's would go only at ttl): the
            // reads in flight there fail, the rest go on on node2
            node3.kill();
            reads.awaitOn(node2Port, node2, 200);
            assertThat(reads.failures).as("reads that failed as node3 crashed: at most those in flight there")
                    .hasSizeLessThanOrEqualTo(READERS);
            int settled = reads.failures.size();
            reads.awaitOn(node2Port, node2, 100);
            assertThat(reads.failures).as("reads failed once the crash was noticed").hasSize(settled);
            assertThat(reads.on(leaderPort)).as("reads on the primary").isZero();
            System.out.printf("replicas_consul_done: %s=%d node3=%d primary=%d failures=%d%n", node2,
                    reads.on(node2Port), reads.on(node3.port()), reads.on(leaderPort), reads.failures.size());
        }
    }

    /** A read of a wildcard database, once Turnout discovered its scope in Consul (3D000 until then). */
    static int firstRead(String database) {
        return Await.value(database + " to exist", AWAIT, Duration.ofMillis(50), () -> {
            try {
                return ReadLoad.readOnce(turnout, database);
            } catch (SQLException e) {
                if ("3D000".equals(e.getSQLState())) {
                    return null;
                }
                throw new Await.Abort(e.getSQLState() + " " + e.getMessage());
            }
        }, () -> "");
    }

    static void awaitRoute(Database db, String what, List<String> standbys) {
        Await.until("shard_c_ro's route to have " + what, AWAIT, Duration.ofMillis(10), () -> {
            ReadRoutes.Route r = db.reads().route();
            return r != null && r.standbys().stream().map(ReadRoutes.Target::name).sorted().toList().equals(standbys);
        }, () -> describe(db));
    }

    static String describe(Database db) {
        return "route " + db.reads().route() + "\nmembers " + db.reads().members();
    }
}
