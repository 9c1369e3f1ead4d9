package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static io.turnout.proxy.testing.FaultFigures.errorOf;

import io.turnout.proxy.testing.FaultFigures;
import io.turnout.proxy.testing.FaultRelay;
import io.turnout.proxy.testing.FaultRelay.Fault;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.ShardLoad;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Network faults between Turnout and PostgreSQL, injected by a {@link FaultRelay} into one server connection
 * while four other clients commit through the same pool (whose every error is counted: there must be none).
 * Each case prints a {@code fault:} line with its figures (see README, Reliability).
 */
class FaultInjectionIT {
    private static final int OTHERS = 4;
    private static final int QUERY_TIMEOUT_S = 3;
    private static final int CONNECT_TIMEOUT_S = 1;

    static PgServer pg;
    FaultRelay relay;
    FaultRelay loginRelay;
    TurnoutFixture turnout;

    @BeforeAll
    static void server() {
        pg = PgServer.shared();
        pg.psql("app", ShardLoad.TABLE);
    }

    /**
     * Database {@code app} (pool 8) behind {@link #relay}, {@code fresh} (never used before the case) behind
     * {@link #loginRelay}. TCP keepalive and tcp_user_timeout are on as in production; what catches a server
     * that stops answering through this relay is query_timeout (see {@link FaultRelay}).
     */
    private void start() {
        relay = new FaultRelay(pg.host(), pg.port());
        loginRelay = new FaultRelay(pg.host(), pg.port());
        turnout = TurnoutFixture.builder(pg)
                .rawDatabase("app", "host: 127.0.0.1, port: " + relay.port()
                        + ", dbname: app, user: postgres, password: postgres, pool_size: 8")
                .rawDatabase("fresh", "host: 127.0.0.1, port: " + loginRelay.port()
                        + ", dbname: app, user: postgres, password: postgres, pool_size: 2")
                .set("query_timeout", QUERY_TIMEOUT_S).set("server_connect_timeout", CONNECT_TIMEOUT_S)
                .set("server_login_retry", 1).set("tcp_keepalive", true).set("tcp_keepidle", 1)
                .set("tcp_keepintvl", 1).set("tcp_keepcnt", 3).set("tcp_user_timeout", 3000)
                .start();
    }

    @AfterEach
    void stop() throws Exception {
        FaultFigures.closeAll(turnout, relay, loginRelay);
        turnout = null;
        relay = null;
        loginRelay = null;
    }

    private int finish(FaultFigures figures) throws Exception {
        stop();
        return figures.print();
    }

    @Test
    void serverStopsAnsweringMidQuery() throws Exception {
        FaultFigures fig = FaultFigures.begin("server_silent_mid_query");
        start();
        long fault;
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS); Connection victim = turnout.connect()) {
            others.awaitCommits(100);
            var hit = relay.failCarrying("fault-black-hole", Fault.blackHole());
            fault = System.nanoTime();
            SQLException e = errorOf(() -> query(victim, "select 1 /* fault-black-hole */"));
            assertThat(hit).isDone();
            fig.detected(hit.get().struckNanos(), System.nanoTime()).faultedSaw(e);
            assertThat(e.getSQLState()).as(e.getMessage()).isEqualTo("08P01"); // PgBouncer's code and words
            assertThat(e.getMessage()).contains("query timeout");
            // the silent server is closed, never pooled again
            hit.get().turnoutGone().get(30, TimeUnit.SECONDS);
            fig.recovered(fault, FaultFigures.untilWorks(turnout::connect, 30_000));
            fig.othersUnaffected(others, "clients beside the silent server");
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
    }

    @Test
    void serverStopsAnsweringAtLogin() throws Exception {
        FaultFigures fig = FaultFigures.begin("server_silent_at_login");
        start();
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS)) {
            others.awaitCommits(100);
            var hit = loginRelay.failNext(Fault.blackHole());
            long fault = System.nanoTime();
            SQLException e = errorOf(() -> connectFresh().close());
            long seen = System.nanoTime();
            fig.detected(fault, seen).faultedSaw(e);
            assertThat(hit).isDone();
            assertThat(e.getSQLState()).as(e.getMessage()).isEqualTo("08006");
            assertThat(e.getMessage()).contains("server_connect_timeout");
            assertThat(TimeUnit.NANOSECONDS.toMillis(seen - fault)).isGreaterThanOrEqualTo(CONNECT_TIMEOUT_S * 1000L - 50);
            // one silent login: after server_login_retry (1 s) the next one goes through
            fig.recovered(fault, FaultFigures.untilWorks(this::connectFresh, 30_000));
            assertThat(loginRelay.accepted()).as("logins tried").isGreaterThanOrEqualTo(2);
            fig.othersUnaffected(others, "clients of another pool");
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
    }

    @Test
    void connectionResetMidTransaction() throws Exception {
        midTransaction("reset_mid_transaction", Fault.reset());
    }

    @Test
    void connectionHalfClosedMidTransaction() throws Exception {
        midTransaction("half_close_mid_transaction", Fault.halfClose());
    }

    /** The server connection of a client inside a transaction breaks while its query runs. */
    private void midTransaction(String name, Fault fault) throws Exception {
        FaultFigures fig = FaultFigures.begin(name);
        start();
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS); Connection victim = turnout.connect()) {
            others.awaitCommits(100);
            victim.setAutoCommit(false);
            query(victim, "select 1");
            String marker = "fault-" + fault.kind();
            var hit = relay.failCarrying(marker, fault);
            long t0 = System.nanoTime();
            // the reply is half a second away, so the fault strikes while the query runs
            SQLException e = errorOf(() -> query(victim, "select pg_sleep(0.5) /* " + marker + " */"));
            long seen = System.nanoTime();
            assertThat(hit).isDone();
            fig.detected(hit.get().struckNanos(), seen).faultedSaw(e);
            assertThat(e.getSQLState()).as(e.getMessage()).isEqualTo("08006");
            assertThat(e.getMessage()).contains("server connection closed unexpectedly");
            fig.recovered(t0, FaultFigures.untilWorks(turnout::connect, 30_000));
            fig.othersUnaffected(others, "clients beside the broken server");
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
    }

    @Test
    void slowServerLink() throws Exception {
        FaultFigures fig = FaultFigures.begin("slow_link_300ms");
        start();
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS); Connection victim = turnout.connect()) {
            others.awaitCommits(100);
            var hit = relay.failCarrying("fault-delay", Fault.delay(Duration.ofMillis(300)));
            long t0 = System.nanoTime();
            query(victim, "select 1 /* fault-delay */");
            long took = System.nanoTime();
            fig.detected(t0, took).faultedSaw("no error, its reply " + TimeUnit.NANOSECONDS.toMillis(took - t0)
                    + " ms late").recovered(t0, took);
            assertThat(hit).isDone();
            assertThat(TimeUnit.NANOSECONDS.toMillis(took - t0)).isGreaterThanOrEqualTo(300);
            fig.othersUnaffected(others, "clients beside the slow server");
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
    }

    private Connection connectFresh() throws SQLException {
        return turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "fresh", new Properties());
    }

    private static void query(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
        }
    }
}
