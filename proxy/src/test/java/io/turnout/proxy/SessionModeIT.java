package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/** Session mode: one server per client for its whole life, reset before the next client gets it. */
class SessionModeIT {
    static PgServer pg;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        turnout = TurnoutFixture.builder(pg).set("pool_mode", "session").set("default_pool_size", 2).start();
    }

    @AfterAll
    static void stop() {
        turnout.close();
    }

    private static int backendPid(Connection c) throws SQLException {
        ResultSet rs = c.createStatement().executeQuery("select pg_backend_pid()");
        rs.next();
        return rs.getInt(1);
    }

    @Test
    void clientKeepsItsServerAndStateIsResetForTheNext() throws SQLException {
        int pid;
        try (Connection c = turnout.connect(); Statement s = c.createStatement()) {
            pid = backendPid(c);
            s.execute("create temp table session_scratch (x int)");
            s.execute("set search_path = pg_temp, public");
            s.execute("prepare myplan as select 1");
            for (int i = 0; i < 5; i++) {
                assertThat(backendPid(c)).isEqualTo(pid);
            }
        }
        // With pool_size 2 and one client at a time, the next client most likely reuses that server;
        // either way nothing of the first session may be visible.
        try (Connection c = turnout.connect(); Statement s = c.createStatement()) {
            ResultSet rs = s.executeQuery("select count(*) from pg_prepared_statements where name = 'myplan'");
            rs.next();
            assertThat(rs.getInt(1)).isZero();
            rs = s.executeQuery("select count(*) from pg_class where relname = 'session_scratch' and relpersistence = 't'");
            rs.next();
            assertThat(rs.getInt(1)).isZero();
            rs = s.executeQuery("show search_path");
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("\"$user\", public");
        }
    }

    @Test
    void listenNotifyReachesTheListeningClient() throws Exception {
        try (Connection listener = turnout.connect(); Connection notifier = turnout.connect()) {
            listener.createStatement().execute("listen turnout_channel");
            notifier.createStatement().execute("notify turnout_channel, 'hello'");
            PGNotification[] got = null;
            for (int i = 0; i < 50 && (got == null || got.length == 0); i++) {
                got = listener.unwrap(PGConnection.class).getNotifications(100);
            }
            assertThat(got).isNotNull().hasSize(1);
            assertThat(got[0].getName()).isEqualTo("turnout_channel");
            assertThat(got[0].getParameter()).isEqualTo("hello");
        }
    }
}
