package io.turnout.proxy;

import static io.turnout.proxy.testing.FaultFigures.errorOf;
import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.FaultFigures;
import io.turnout.proxy.testing.FaultRelay;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.ShardLoad;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL itself failing under load through Turnout: a fast restart, kill -9 of one backend (crash
 * recovery resets every backend) and logins refused with 53300 (max_connections reached). Each case prints a
 * {@code fault:} line with its figures (see README, Reliability). One private server for the class, with
 * max_connections 20 so that a few direct connections can fill it; every case leaves it running.
 */
class ServerOutageIT {
    private static final int OTHERS = 4;

    static PgServer pg;
    TurnoutFixture turnout;
    FaultRelay relay;

    @BeforeAll
    static void server() {
        pg = PgServer.start();
        pg.psql("postgres", "ALTER SYSTEM SET max_connections = 20");
        pg.restart();
        pg.psql("app", ShardLoad.TABLE);
    }

    @AfterAll
    static void stopServer() {
        if (pg != null) {
            pg.close();
        }
    }

    @AfterEach
    void stop() throws Exception {
        FaultFigures.closeAll(turnout, relay);
        turnout = null;
        relay = null;
    }

    private int finish(FaultFigures figures) throws Exception {
        stop();
        return figures.print();
    }

    /**
     * pg_ctl restart -m fast, in its two halves so the test knows when PostgreSQL was down: transactions
     * running at the stop fail, every transaction begun after it waits and commits once the server is back
     * (server_login_retry at its default 15 s plays no part).
     */
    @Test
    void fastRestartUnderLoad() throws Exception {
        FaultFigures fig = FaultFigures.begin("pg_ctl_restart_fast");
        turnout = TurnoutFixture.builder(pg).set("default_pool_size", 6).set("server_login_retry", 15).start();
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS)) {
            others.awaitCommits(100);
            long t0 = System.nanoTime();
            pg.stop(); // pg_ctl stop -m fast: returns once the postmaster is gone
            long down = System.nanoTime();
            pg.restart(); // not running: pg_ctl start, returns once it accepts connections
            long up = System.nanoTime();
            long firstCommit = others.firstCommitOn(pg.port(), down);
            assertThat(firstCommit).as("a commit after the restart; failures " + others.failures).isPositive();
            others.awaitCommits(100); // the pool refilled
            List<String> errors = others.failures.stream().map(ShardLoad.Failure::error).toList();
            List<String> outside = FaultFigures.notLostMidTransaction(errors);
            fig.faultedSaw(errors.isEmpty() ? "-" : errors.get(0)).othersErrors(outside.size())
                    .othersInflightFailed(errors.size() - outside.size()).recovered(up, firstCommit);
            System.out.printf("fault: case=pg_ctl_restart_fast stop_ms=%d start_ms=%d outage_ms=%d errors=%s%n",
                    ms(down - t0), ms(up - down), ms(firstCommit - t0), errors.stream().distinct().toList());
            assertThat(others.failuresBeganAfter(down)).as("transactions begun while PostgreSQL was down failed; "
                    + "errors " + errors.stream().distinct().toList()).isZero();
            assertThat(outside).as("errors other than a transaction losing its server").isEmpty();
            assertThat(errors.size()).as("only transactions running at the stop fail").isLessThanOrEqualTo(2 * OTHERS);
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
    }

    /**
     * kill -9 of the backend under a client inside a transaction. PostgreSQL then ends every other backend
     * (each sends WARNING 57P02 first) and runs crash recovery, refusing logins with 57P03 meanwhile.
     */
    @Test
    void backendKilledInsideATransaction() throws Exception {
        FaultFigures fig = FaultFigures.begin("backend_kill_9_in_transaction");
        turnout = TurnoutFixture.builder(pg).set("default_pool_size", 6).set("server_login_retry", 15).start();
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS); Connection victim = turnout.connect()) {
            others.awaitCommits(100);
            victim.setAutoCommit(false);
            long pid = queryLong(victim, "select pg_backend_pid()"); // the transaction holds this server
            long t0 = System.nanoTime();
            assertThat(ProcessHandle.of(pid).orElseThrow().destroyForcibly()).isTrue(); // SIGKILL
            SQLException e = errorOf(() -> queryLong(victim, "select 1"));
            fig.faultedSaw(e).detected(t0, System.nanoTime());
            assertThat(e.getSQLState()).as(e.getMessage()).isEqualTo("08006");
            assertThat(e.getMessage()).contains("server connection closed unexpectedly");
            long victimBack = FaultFigures.untilWorks(turnout::connect, 60_000);
            others.awaitCommits(100);
            long lastFailure = others.failures.stream().mapToLong(ShardLoad.Failure::failedNanos).max().orElse(t0);
            long othersBack = others.firstCommitOn(pg.port(), lastFailure);
            List<String> errors = others.failures.stream().map(ShardLoad.Failure::error).toList();
            List<String> outside = FaultFigures.notLostMidTransaction(errors);
            fig.othersErrors(outside.size()).othersInflightFailed(errors.size() - outside.size())
                    .recovered(t0, victimBack);
            System.out.printf("fault: case=backend_kill_9_in_transaction others_outage_ms=%d others_saw=%s%n",
                    ms(othersBack - t0), errors.stream().distinct().toList());
            assertThat(outside).as("errors other than a transaction losing its server").isEmpty();
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
    }

    /**
     * max_connections reached by other applications: a pool with no server yet gets 53300 at login. Its
     * clients get that error with PostgreSQL's words, Turnout waits server_login_retry before the next login
     * (counted at a relay), and the pool works once a slot is free. A pool that has its servers goes on.
     */
    @Test
    void tooManyConnectionsAtLogin() throws Exception {
        FaultFigures fig = FaultFigures.begin("too_many_connections_53300");
        relay = new FaultRelay(pg.host(), pg.port());
        turnout = TurnoutFixture.builder(pg).set("default_pool_size", OTHERS).set("server_login_retry", 2)
                .rawDatabase("tight", "host: 127.0.0.1, port: " + relay.port()
                        + ", dbname: app, user: postgres, password: postgres, pool_size: 2")
                .start();
        List<Connection> hogs = new ArrayList<>();
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS)) {
            others.awaitCommits(100);
            fillEverySlot(hogs);
            int logins = relay.accepted();
            long t0 = System.nanoTime();
            SQLException first = errorOf(() -> connectTight().close());
            fig.faultedSaw(first).detected(t0, System.nanoTime());
            SQLException second = errorOf(() -> connectTight().close());
            assertThat(first.getSQLState()).as(first.getMessage()).isEqualTo("53300");
            assertThat(first.getMessage()).contains("too many clients").contains("server_login_retry");
            assertThat(second.getSQLState()).isEqualTo("53300");
            assertThat(relay.accepted() - logins).as("server logins within server_login_retry").isEqualTo(1);
            hogs.remove(0).close();
            long freed = System.nanoTime();
            fig.recovered(freed, FaultFigures.untilWorks(this::connectTight, 30_000));
            fig.othersUnaffected(others, "clients of a pool that has its servers");
        } finally {
            for (Connection c : hogs) {
                c.close();
            }
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
    }

    /** Direct logins until PostgreSQL is full ("sorry, too many clients already", superusers included). */
    private static void fillEverySlot(List<Connection> hogs) throws SQLException {
        for (int i = 0; i < 30; i++) {
            try {
                hogs.add(pg.connect(PgServer.Role.SUPERUSER, "app"));
            } catch (SQLException e) {
                assertThat(e.getSQLState()).as(e.getMessage()).isEqualTo("53300");
                assertThat(hogs).as("some slots were free").isNotEmpty();
                return;
            }
        }
        throw new AssertionError("max_connections 20 never reached");
    }

    private Connection connectTight() throws SQLException {
        return turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "tight", new Properties());
    }

    private static long queryLong(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long ms(long nanos) {
        return nanos / 1_000_000;
    }
}
