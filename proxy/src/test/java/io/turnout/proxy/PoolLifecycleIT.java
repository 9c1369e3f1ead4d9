package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Server connections over their life: reuse after a client leaves mid-transaction, timeouts, lifetime,
 * min and reserve pools. Databases here log in as app_scram so pg_stat_activity can count their servers.
 */
class PoolLifecycleIT {
    static PgServer pg;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        pg.psql("app", "DROP TABLE IF EXISTS life_rows; CREATE TABLE life_rows (id int); GRANT ALL ON life_rows TO PUBLIC");
    }

    private static TurnoutFixture.Builder life() {
        return TurnoutFixture.builder(pg).set("workers", 1)
                .database("life", "dbname: app, user: app_scram, password: scram_pw");
    }

    private static Connection connect(TurnoutFixture t) throws SQLException {
        return t.connect("alice", "alice_pw", "life", new Properties());
    }

    private static int intQuery(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static int lifeServers() {
        return Integer.parseInt(pg.psql("app", "select count(*) from pg_stat_activity where usename = 'app_scram'").trim());
    }

    private static void awaitServers(IntPredicate ok, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        int n = lifeServers();
        while (!ok.test(n) && System.nanoTime() < deadline) {
            Thread.sleep(100);
            n = lifeServers();
        }
        assertThat(ok.test(n)).as(what + " (servers now: " + n + ": " + pg.psql("app",
                "select pid, state, backend_start, left(query, 60) from pg_stat_activity where usename = 'app_scram'") + ")")
                .isTrue();
    }

    @Test
    void clientLeavingInsideTransactionLeavesARolledBackServer() throws Exception {
        awaitServers(n -> n == 0, "no app_scram servers left by other tests");
        try (TurnoutFixture t = life().set("default_pool_size", 1).start()) {
            int pid;
            try (Connection a = connect(t)) {
                a.setAutoCommit(false);
                pid = intQuery(a, "select pg_backend_pid()");
                a.createStatement().execute("insert into life_rows values (1)");
            } // pgjdbc sends Terminate without committing
            try (Connection b = connect(t)) {
                assertThat(intQuery(b, "select pg_backend_pid()")).as("same server, rolled back, reused").isEqualTo(pid);
                assertThat(intQuery(b, "select count(*) from life_rows")).isZero();
                assertThat(intQuery(b, "select count(*) from pg_stat_activity where pid = pg_backend_pid() and xact_start is not null and state = 'idle in transaction'")).isZero();
            }
        }
    }

    @Test
    void clientLeavingWithAQueryInFlightClosesThatServer() throws Exception {
        try (TurnoutFixture t = life().set("default_pool_size", 1).start()) {
            Connection a = connect(t);
            int pid = intQuery(a, "select pg_backend_pid()");
            CompletableFuture<Void> sleeping = CompletableFuture.runAsync(() -> {
                try {
                    a.createStatement().execute("select pg_sleep(30)");
                } catch (SQLException expected) {
                    // the connection is aborted under it
                }
            });
            Thread.sleep(300);
            a.abort(Runnable::run);
            sleeping.get(10, TimeUnit.SECONDS);
            try (Connection b = connect(t)) {
                assertThat(intQuery(b, "select pg_backend_pid()")).as("a new server").isNotEqualTo(pid);
            }
            // its query was cancelled, so the backend ends now rather than after pg_sleep(30)
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            String alive;
            do {
                Thread.sleep(50);
                alive = pg.psql("app", "select count(*) from pg_stat_activity where pid = " + pid).trim();
            } while (!alive.equals("0") && System.nanoTime() < deadline);
            assertThat(alive).as("the busy server was cancelled and closed").isEqualTo("0");
        }
    }

    @Test
    void idleTransactionTimeoutEndsTheClientAndFreesTheServer() throws Exception {
        try (TurnoutFixture t = life().set("default_pool_size", 1).set("idle_transaction_timeout", 1).start();
             Connection a = connect(t); Connection b = connect(t)) {
            a.setAutoCommit(false);
            a.createStatement().execute("insert into life_rows values (2)");
            Thread.sleep(1600);
            assertThatThrownBy(() -> a.createStatement().execute("select 1"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isIn("25P03", "08006", "08003"));
            assertThat(intQuery(b, "select count(*) from life_rows where id = 2")).as("rolled back").isZero();
        }
    }

    @Test
    void statementModeRefusesTransactionBlocks() throws Exception {
        try (TurnoutFixture t = life().set("pool_mode", "statement").start(); Connection c = connect(t)) {
            assertThat(intQuery(c, "select 40 + 2")).isEqualTo(42);
            c.setAutoCommit(false);
            // As in PgBouncer, the violation shows at ReadyForQuery 'T', after the first statement's result
            // has been forwarded: the client learns it on its next call, and is disconnected.
            assertThatThrownBy(() -> {
                c.createStatement().execute("select 1");
                c.createStatement().execute("select 2");
            }).isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getMessage()).contains("statement pooling mode"));
        }
    }

    @Test
    void serverLifetimeReplacesOldServersAtRelease() throws Exception {
        try (TurnoutFixture t = life().set("default_pool_size", 1).set("server_lifetime", "500ms").start();
             Connection c = connect(t)) {
            int first = intQuery(c, "select pg_backend_pid()");
            Thread.sleep(800);
            intQuery(c, "select 1"); // released past its lifetime: closed
            assertThat(intQuery(c, "select pg_backend_pid()")).isNotEqualTo(first);
        }
    }

    @Test
    void serverIdleTimeoutClosesIdleServersAndMinPoolSizeKeepsSome() throws Exception {
        awaitServers(n -> n == 0, "no app_scram servers left by other tests");
        try (TurnoutFixture t = life().set("default_pool_size", 4).set("min_pool_size", 2)
                .set("server_idle_timeout", "500ms").start()) {
            try (Connection c = connect(t)) {
                intQuery(c, "select 1");
                awaitServers(n -> n == 2, "min_pool_size opens servers up to 2");
                Connection[] held = new Connection[4];
                for (int i = 0; i < 4; i++) {
                    held[i] = connect(t);
                    held[i].setAutoCommit(false);
                    intQuery(held[i], "select 1");
                }
                assertThat(lifeServers()).isEqualTo(4);
                for (Connection h : held) {
                    h.commit();
                    h.close();
                }
                awaitServers(n -> n == 2, "idle servers beyond min_pool_size close after server_idle_timeout");
            }
        }
        awaitServers(n -> n == 0, "closing Turnout closes its servers");
    }

    @Test
    void reservePoolOpensExtraServersForClientsWaitingTooLong() throws Exception {
        try (TurnoutFixture t = life().set("default_pool_size", 1).set("reserve_pool_size", 1)
                .set("reserve_pool_timeout", "300ms").start();
             Connection holder = connect(t); Connection waiter = connect(t)) {
            holder.setAutoCommit(false);
            intQuery(holder, "select 1");
            long t0 = System.nanoTime();
            assertThat(intQuery(waiter, "select 7")).isEqualTo(7);
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(waited).as("served from the reserve after reserve_pool_timeout").isBetween(250L, 3000L);
            holder.commit();
        }
    }

    @Test
    void idleServerKilledByTheBackendIsNotHandedOut() throws Exception {
        try (TurnoutFixture t = life().set("default_pool_size", 1).set("server_check_delay", 0).start();
             Connection c = connect(t)) {
            int pid = intQuery(c, "select pg_backend_pid()");
            pg.psql("app", "select pg_terminate_backend(" + pid + ")");
            Thread.sleep(200);
            assertThat(intQuery(c, "select 11")).isEqualTo(11);
            assertThat(intQuery(c, "select pg_backend_pid()")).isNotEqualTo(pid);
        }
    }
}
