package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.Await;
import io.turnout.proxy.testing.PgShard;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Static comma host lists routed by role (issue 17) against a real primary on 127.0.0.1 and its real streaming
 * standby (pg_basebackup -R) on 127.0.0.2, both on the same port: {@code host: "127.0.0.1,127.0.0.2"} with one
 * {@code port}, as PgBouncer writes it. Each read is {@code select host(inet_server_addr()), pg_is_in_recovery()}:
 * the server that ran it says where it is and what it is. One cluster, the cases in order: standby reaches only the
 * standby, primary only the primary, any with round-robin both and with disable the first host written; the
 * standby stopped, prefer-standby reads on the primary and standby holds for failover_hold_timeout, then fails
 * with 08006 naming the database; the standby back, both return to it; the standby promoted, the primary
 * database finds it and the standby one lets it go.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class StaticHostsIT {
    private static final Duration AWAIT = Duration.ofSeconds(60);
    private static final String PRIMARY = "127.0.0.1 primary";
    private static final String STANDBY = "127.0.0.2 standby";
    private static final int HOLD_SECONDS = 3;
    private static final Duration CHECK_DELAY = Duration.ofSeconds(1);

    static PgShard shard;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() {
        long t0 = System.nanoTime();
        shard = PgShard.start();
        int port = shard.primary().port();
        shard.replica().server().listenOn("127.0.0.2", port); // same port, the other loopback address
        shard.awaitStreaming();
        String hosts = "host: \"127.0.0.1,127.0.0.2\", port: " + port + ", dbname: app, user: postgres,"
                + " password: postgres";
        turnout = TurnoutFixture.builder()
                .set("failover_hold_timeout", HOLD_SECONDS)
                .set("server_check_delay", CHECK_DELAY.toSeconds())
                .set("default_pool_size", 4)
                .set("admin_users", "admin")
                .user("admin", "admin_pw")
                .rawDatabase("reports_ro", hosts + ", target_session_attrs: standby")
                .rawDatabase("orders", hosts)
                .rawDatabase("spread", hosts + ", target_session_attrs: any, load_balance_hosts: round-robin")
                .rawDatabase("prefer", hosts + ", target_session_attrs: prefer-standby")
                .rawDatabase("in_order", "host: \"127.0.0.2,127.0.0.1\", port: " + port + ", dbname: app,"
                        + " user: postgres, password: postgres, target_session_attrs: any, load_balance_hosts: disable")
                .start();
        System.out.printf("static_hosts_setup: primary, standby and Turnout ready in %d ms%n",
                (System.nanoTime() - t0) / 1_000_000);
    }

    @AfterAll
    static void stop() {
        // closed in reverse: Turnout first, then the cluster; one that did not start is null, and skipped
        try (PgShard cluster = shard; TurnoutFixture proxy = turnout) {
            System.out.println("static_hosts_stop: " + cluster + ", turnout started: " + (proxy != null));
        }
    }

    @Test
    void eachTargetReachesOnlyTheHostsOfItsRoleAndFollowsThemAsTheyStopStartAndPromote() throws Exception {
        assertThat(reads("reports_ro", 40)).as("standby").containsOnlyKeys(STANDBY);
        assertThat(reads("orders", 40)).as("primary (the default)").containsOnlyKeys(PRIMARY);
        Map<String, Integer> spread = reads("spread", 60);
        assertThat(spread).as("any, round-robin").containsOnlyKeys(PRIMARY, STANDBY);
        assertThat(spread.values()).as("each host's share of 60 reads: " + spread).allSatisfy(n ->
                assertThat(n).isGreaterThanOrEqualTo(12));
        assertThat(reads("prefer", 20)).as("prefer-standby with the standby up").containsOnlyKeys(STANDBY);
        assertThat(reads("in_order", 20)).as("any, disable: the first host written").containsOnlyKeys(STANDBY);
        showsEachHost();
        System.out.printf("static_hosts_roles: spread=%s%n", spread);

        // the standby stops: prefer-standby reads on the primary, standby holds then fails naming the database
        shard.replica().server().stop();
        awaitRead("prefer", PRIMARY);
        assertThat(reads("prefer", 20)).as("prefer-standby with the standby stopped").containsOnlyKeys(PRIMARY);
        long t0 = System.nanoTime();
        SQLException held = refused("reports_ro");
        long heldMs = (System.nanoTime() - t0) / 1_000_000;
        assertThat(held.getSQLState()).as(held.getMessage()).isEqualTo("08006");
        assertThat(held.getMessage()).contains("failover_hold_timeout", "database reports_ro",
                "127.0.0.2:" + shard.primary().port() + " unreachable");
        assertThat(heldMs).as("held for failover_hold_timeout first").isGreaterThanOrEqualTo(HOLD_SECONDS * 1000 - 200);
        assertThat(reads("orders", 10)).as("primary with the standby stopped").containsOnlyKeys(PRIMARY);
        System.out.printf("static_hosts_standby_stopped: held_ms=%d error=\"%s\"%n", heldMs, held.getMessage());

        // the standby is back: a probe finds it, and both databases that want it return to it
        shard.replica().server().restart();
        shard.awaitStreaming();
        awaitRead("reports_ro", STANDBY);
        awaitRead("prefer", STANDBY);
        assertThat(reads("prefer", 20)).as("prefer-standby with the standby back").containsOnlyKeys(STANDBY);
        assertThat(reads("reports_ro", 20)).as("standby with the standby back").containsOnlyKeys(STANDBY);

        // the standby is promoted: the primary database finds a second primary, the standby one has none left
        shard.replica().server().promote();
        long promoted = System.nanoTime();
        Await.until("the promoted 127.0.0.2 to take transactions of orders", AWAIT,
                () -> reads("orders", 4).containsKey("127.0.0.2 primary"));
        // reports_ro's idle servers there are asked again once server_check_delay (1 s) passed since their last
        // check, which was before the promotion: only then is "no new transaction" promised
        Await.until("server_check_delay to pass since the promotion", AWAIT,
                () -> System.nanoTime() - promoted > CHECK_DELAY.toNanos());
        SQLException none = refused("reports_ro");
        assertThat(none.getSQLState()).as(none.getMessage()).isEqualTo("08006");
        assertThat(none.getMessage()).contains("database reports_ro", "127.0.0.2:" + shard.primary().port()
                + " primary");
        System.out.printf("static_hosts_promoted: orders=%s%n", reads("orders", 20));
    }

    /** SHOW TOPOLOGY has a row per host with what it said it is and whether it takes transactions. */
    private static void showsEachHost() throws Exception {
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            AdminClient.Table all = admin.query("SHOW TOPOLOGY");
            AdminClient.Table ro = new AdminClient.Table(all.columns(), all.types(),
                    all.where("database", "reports_ro"));
            assertThat(ro.only("member", "127.0.0.2")).containsEntry("member_role", "standby")
                    .containsEntry("routed", "yes");
            assertThat(ro.only("member", "127.0.0.1")).containsEntry("member_role", "primary")
                    .containsEntry("routed", "target_session_attrs standby");
        }
    }

    /**
     * {@code n} reads on {@code db} in autocommit, alternating between two connections (each read its own
     * transaction), counted by "address role" of the server that ran them.
     */
    private static Map<String, Integer> reads(String db, int n) {
        Map<String, Integer> by = new TreeMap<>();
        try (Connection a = connect(db); Connection b = connect(db)) {
            for (int i = 0; i < n; i++) {
                try (Statement st = (i % 2 == 0 ? a : b).createStatement();
                        ResultSet rs = st.executeQuery("select host(inet_server_addr()), pg_is_in_recovery()")) {
                    assertThat(rs.next()).isTrue();
                    by.merge(rs.getString(1) + (rs.getBoolean(2) ? " standby" : " primary"), 1, Integer::sum);
                }
            }
        } catch (SQLException e) {
            throw new AssertionError("reads on " + db + " after " + by + ": " + e.getSQLState() + " " + e.getMessage(),
                    e);
        }
        return by;
    }

    /** Waits until a read on {@code db} succeeds on {@code where} (a stopped server's last connections may fail). */
    private static void awaitRead(String db, String where) {
        String[] last = {""};
        Await.until("a read on " + db + " to run on " + where, AWAIT, Duration.ofMillis(50), () -> {
            try {
                last[0] = reads(db, 1).toString();
                return last[0].contains(where);
            } catch (AssertionError e) {
                last[0] = e.getMessage();
                return false;
            }
        }, () -> "last: " + last[0]);
    }

    /** The error a read on {@code db} ends with (it must not succeed). */
    private static SQLException refused(String db) {
        try (Connection c = connect(db); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select host(inet_server_addr()), pg_is_in_recovery()")) {
            rs.next();
            throw new AssertionError("a read on " + db + " ran on " + rs.getString(1) + " recovery=" + rs.getString(2));
        } catch (SQLException e) {
            return e;
        }
    }

    private static Connection connect(String db) throws SQLException {
        return turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, db, new Properties());
    }
}
