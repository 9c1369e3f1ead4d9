package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * PgBouncer's client-side limits: query_timeout, transaction_timeout and client_idle_timeout end the client with
 * PgBouncer's 08P01 and words and close the server it ran on; max_db_client_connections and
 * max_user_client_connections refuse the login past the limit. Another client alongside is never disturbed.
 */
class ClientLimitsIT {
    static PgServer pg;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        pg.psql("app", "DROP TABLE IF EXISTS limit_rows; CREATE TABLE limit_rows (id int); GRANT ALL ON limit_rows TO PUBLIC");
    }

    private static TurnoutFixture.Builder limits() {
        return TurnoutFixture.builder(pg).set("workers", 1).set("admin_users", "admin").user("admin", "admin_pw")
                .user("bob", "bob_pw").database("lim", "dbname: app, user: app_scram, password: scram_pw");
    }

    private static Connection connect(TurnoutFixture t, String user, String db) throws SQLException {
        return t.connect(user, user + "_pw", db, new Properties());
    }

    private static int intQuery(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static void await(BooleanSupplier ok, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!ok.getAsBoolean()) {
            assertThat(System.nanoTime() < deadline).as(what).isTrue();
            Thread.sleep(50);
        }
    }

    private static boolean backendGone(int pid) {
        return pg.psql("app", "select count(*) from pg_stat_activity where pid = " + pid).trim().equals("0");
    }

    private static void assertPgBouncerError(SQLException e, String message) {
        assertThat(e.getSQLState()).as(e.toString()).isEqualTo("08P01");
        assertThat(e.getMessage()).contains(message);
    }

    @Test
    void queryTimeoutEndsTheClientAndClosesItsServer() throws Exception {
        try (TurnoutFixture t = limits().set("query_timeout", 1).start();
             Connection a = connect(t, "alice", "lim"); Connection b = connect(t, "alice", "lim")) {
            int pid = intQuery(a, "select pg_backend_pid()");
            long start = System.nanoTime();
            assertThatThrownBy(() -> a.createStatement().execute("select pg_sleep(30)"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertPgBouncerError(e, "query timeout"));
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).as("ended by the timeout").isLessThan(20);
            await(() -> backendGone(pid), "the server that ran the query is closed (cancelled, not pooled)");
            assertThat(intQuery(b, "select count(*) from pg_sleep(0.2)")).as("the client alongside runs on").isEqualTo(1);
            assertThat(intQuery(b, "select pg_backend_pid()")).isNotEqualTo(pid);

            List<String> psql = new ArrayList<>(t.clientArgs("psql", "lim"));
            psql.addAll(List.of("-X", "-v", "ON_ERROR_STOP=1", "-c", "select pg_sleep(30)"));
            Processes.Result r = Processes.run(Duration.ofSeconds(25), psql, t.clientEnv(), null, null);
            assertThat(r.exitCode()).as("psql sees the error too").isNotZero();
            assertThat(r.stderr()).contains("query timeout");
        }
    }

    @Test
    void transactionTimeoutCountsFromTheTransactionsStart() throws Exception {
        try (TurnoutFixture t = limits().set("transaction_timeout", 1).start();
             Connection a = connect(t, "alice", "lim"); Connection b = connect(t, "alice", "lim")) {
            assertThat(intQuery(a, "select count(*) from pg_sleep(0.6)")).as("a short statement is fine").isEqualTo(1);
            a.setAutoCommit(false);
            a.createStatement().execute("insert into limit_rows values (1)");
            // each statement is short; together they outlast transaction_timeout
            assertThatThrownBy(() -> {
                for (int i = 0; i < 20; i++) {
                    a.createStatement().execute("select pg_sleep(0.3)");
                }
            }).isInstanceOfSatisfying(SQLException.class, e -> assertPgBouncerError(e, "transaction timeout"));
            assertThat(intQuery(b, "select count(*) from limit_rows where id = 1")).as("rolled back").isZero();
        }
    }

    @Test
    void clientIdleTimeoutEndsAnIdleClientOnly() throws Exception {
        try (TurnoutFixture t = limits().set("client_idle_timeout", 1).start();
             Connection idle = connect(t, "alice", "lim"); Connection busy = connect(t, "bob", "lim");
             AdminClient admin = new AdminClient(t, "admin", "admin_pw")) {
            assertThat(intQuery(idle, "select 1")).isEqualTo(1);
            assertThat(intQuery(busy, "select count(*) from pg_sleep(1.3)") + intQuery(busy, "select 1"))
                    .as("a long query is not idleness: the client just back from one is not closed").isEqualTo(2);
            await(() -> {
                try {
                    assertThat(intQuery(busy, "select count(*) from pg_sleep(0.1)")).isEqualTo(1); // never idle 1 s
                    return admin.query("SHOW CLIENTS").where("user", "alice").isEmpty();
                } catch (SQLException e) {
                    throw new AssertionError(e);
                }
            }, "the idle client is closed");
            assertThatThrownBy(() -> idle.createStatement().execute("select 1"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertPgBouncerError(e, "client_idle_timeout"));
            assertThat(admin.query("SHOW CLIENTS").where("user", "bob")).as("the admin console is not a pool client")
                    .hasSize(1);
        }
    }

    @Test
    void perDatabaseAndPerUserClientLimitsRefuseTheLoginPastThem() throws Exception {
        try (TurnoutFixture t = limits().set("max_db_client_connections", 3).set("max_user_client_connections", 2).start();
             AdminClient admin = new AdminClient(t, "admin", "admin_pw");
             Connection a1 = connect(t, "alice", "lim"); Connection a2 = connect(t, "alice", "lim")) {
            assertThatThrownBy(() -> connect(t, "alice", "lim").close())
                    .isInstanceOfSatisfying(SQLException.class,
                            e -> assertPgBouncerError(e, "client connections exceeded (max_user_client_connections)"));
            try (Connection b1 = connect(t, "bob", "lim")) {
                assertThatThrownBy(() -> connect(t, "bob", "lim").close())
                        .isInstanceOfSatisfying(SQLException.class,
                                e -> assertPgBouncerError(e, "client connections exceeded (max_db_client_connections)"));
                try (Connection other = connect(t, "bob", "app")) {
                    assertThat(intQuery(other, "select 7")).as("another database is not limited by lim's count").isEqualTo(7);
                }
                assertThat(intQuery(a1, "select 1") + intQuery(a2, "select 1") + intQuery(b1, "select 1"))
                        .as("the admitted clients are undisturbed").isEqualTo(3);
            }
            // a closed client's count is released once: bob may come back
            try (Connection b2 = connect(t, "bob", "lim")) {
                assertThat(intQuery(b2, "select 2")).isEqualTo(2);
            }
            assertThat(admin.query("SHOW CONFIG").only("key", "max_user_client_connections").get("value")).isEqualTo("2");
            admin.execute("SET max_user_client_connections = 3");
            try (Connection a3 = connect(t, "alice", "lim")) {
                assertThat(intQuery(a3, "select 3")).as("SET raised the limit for the next login").isEqualTo(3);
            }
            assertThat(admin.query("SHOW USERS").only("name", "alice").get("max_user_client_connections")).isEqualTo("3");
        }
    }
}
