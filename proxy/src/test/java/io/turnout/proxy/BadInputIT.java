package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.Canary;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.RawClient;
import io.turnout.proxy.testing.TurnoutFixture;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every kind of bad input gets a FATAL ErrorResponse with the right SQLSTATE and a closed connection,
 * while a well-behaved client on the same Turnout keeps working.
 */
class BadInputIT {
    static PgServer pg;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        turnout = TurnoutFixture.builder(pg)
                .set("max_packet_size", 65536)
                .start();
    }

    @AfterAll
    static void stop() {
        turnout.close();
    }

    private static void assertFatal(RawClient raw, String sqlState, String messagePart) throws Exception {
        RawClient.Message error = raw.readError();
        assertThat(error.field('C')).isEqualTo(sqlState);
        assertThat(error.field('S')).isEqualTo("FATAL");
        if (messagePart != null) {
            assertThat(error.field('M')).contains(messagePart);
        }
        assertThat(raw.closedByServer()).as("connection closed after the error").isTrue();
    }

    /** A raw client past login; needs a Turnout with auth_type trust. */
    private static RawClient loggedIn(TurnoutFixture t) throws Exception {
        RawClient raw = new RawClient(t.port());
        raw.send(RawClient.startup("user", "alice", "database", "app"));
        assertThat(raw.readUntilReady()).isNull();
        return raw;
    }

    @Test
    void malformedStartupLength() throws Exception {
        Canary canary = new Canary(turnout);
        try (RawClient raw = new RawClient(turnout.port())) {
            raw.send(new byte[] {0, 0, 0, 3, 0, 3, 0, 0});
            assertFatal(raw, "08P01", "invalid startup packet length");
        }
        try (RawClient raw = new RawClient(turnout.port())) {
            raw.send(new byte[] {0, 0, 0, 12, 0, 2, 0, 0, 'u', 0, 0, 0}); // protocol 2
            assertFatal(raw, "0A000", "unsupported frontend protocol");
        }
        try (RawClient raw = new RawClient(turnout.port())) {
            raw.send(RawClient.startup("database", "app")); // no user
            assertFatal(raw, "28000", "no PostgreSQL user name");
        }
        canary.stop();
    }

    @Test
    void malformedAndOversizedMessagesAfterLogin() throws Exception {
        try (TurnoutFixture trust = TurnoutFixture.builder(pg).set("auth_type", "trust")
                .set("max_packet_size", 65536).start()) {
            Canary canary = new Canary(trust);
            try (RawClient raw = loggedIn(trust)) {
                raw.send(new byte[] {'Q', 0, 0, 0, 2});
                assertFatal(raw, "08P01", "invalid message length");
            }
            try (RawClient raw = loggedIn(trust)) {
                raw.send(new byte[] {'Q', 0, 1, 0, 1}); // 65537 bytes announced, 65536 allowed
                assertFatal(raw, "08P01", "exceeds max_packet_size");
            }
            try (RawClient raw = loggedIn(trust)) {
                raw.send(RawClient.message('Z', new byte[] {'I'})); // a backend message type from a client
                assertFatal(raw, "08P01", "invalid frontend message type");
            }
            try (RawClient raw = loggedIn(trust)) {
                raw.send(RawClient.query("select 1"));
                assertThat(raw.readUntilReady()).isNull();
            }
            canary.stop();
        }
    }

    @Test
    void unknownDatabaseUnknownUserWrongPassword() throws Exception {
        Canary canary = new Canary(turnout);
        assertThatThrownBy(() -> turnout.connect("alice", "alice_pw", "nodb", new Properties()).close())
                .isInstanceOfSatisfying(SQLException.class, e -> {
                    assertThat(e.getSQLState()).isEqualTo("3D000");
                    assertThat(e.getMessage()).contains("nodb");
                });
        assertThatThrownBy(() -> turnout.connect("mallory", "x", "app", new Properties()).close())
                .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
        assertThatThrownBy(() -> turnout.connect("alice", "wrong", "app", new Properties()).close())
                .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
        canary.stop();
    }

    @Test
    void clientLoginTimeout() throws Exception {
        // a Turnout of its own: 1 s would also cut a real first login short on a busy machine (cold JIT, SCRAM)
        // (no canary here: its own login would be bound by the same 1 s)
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("client_login_timeout", 1).start()) {
            try (RawClient raw = new RawClient(t.port())) {
                long t0 = System.nanoTime();
                assertFatal(raw, "08P01", "client_login_timeout");
                assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(500L, 5000L);
            }
        }
    }

    @Test
    void maxClientConnReached() throws Exception {
        try (TurnoutFixture small = TurnoutFixture.builder(pg).set("max_client_conn", 3).start()) {
            Canary canary = new Canary(small);
            List<Connection> held = new ArrayList<>();
            try {
                held.add(small.connect());
                held.add(small.connect());
                assertThatThrownBy(() -> small.connect().close())
                        .isInstanceOfSatisfying(SQLException.class, e -> {
                            assertThat(e.getSQLState()).isEqualTo("53300");
                            assertThat(e.getMessage()).contains("max_client_conn");
                        });
                held.remove(0).close();
                Thread.sleep(200);
                held.add(small.connect()); // a slot freed up
            } finally {
                for (Connection c : held) {
                    c.close();
                }
            }
            canary.stop();
        }
    }

    @Test
    void queryWaitTimeoutNamesThePool() throws Exception {
        try (TurnoutFixture tiny = TurnoutFixture.builder(pg).set("default_pool_size", 1)
                .set("query_wait_timeout", 1).set("workers", 1).start();
             Connection holder = tiny.connect();
             Connection waiter = tiny.connect()) {
            holder.setAutoCommit(false);
            holder.createStatement().execute("select 1"); // holds the only server in a transaction
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> waiter.createStatement().execute("select 2"))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getSQLState()).isEqualTo("08006");
                        assertThat(e.getMessage()).contains("query_wait_timeout").contains("app/postgres");
                    });
            assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(900L, 5000L);
            ResultSet rs = holder.createStatement().executeQuery("select 3");
            rs.next();
            assertThat(rs.getInt(1)).as("the client holding the server is unaffected").isEqualTo(3);
            holder.commit();
        }
    }

    @Test
    void backendDownAtLoginAndMidSession() throws Exception {
        int deadPort;
        try (ServerSocket s = new ServerSocket(0)) {
            deadPort = s.getLocalPort();
        }
        try (TurnoutFixture t = TurnoutFixture.builder(pg)
                .rawDatabase("down", "host: 127.0.0.1, port: " + deadPort + ", dbname: app, user: postgres, password: x")
                .start()) {
            Canary canary = new Canary(t);
            assertThatThrownBy(() -> t.connect("alice", "alice_pw", "down", new Properties()).close())
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getSQLState()).isEqualTo("08006");
                        assertThat(e.getMessage()).contains("could not connect");
                    });
            canary.stop();
        }
        try (PgServer own = PgServer.start();
             TurnoutFixture t = TurnoutFixture.builder(pg)
                     .rawDatabase("own", "host: 127.0.0.1, port: " + own.port() + ", dbname: app, user: postgres, password: postgres")
                     .set("server_login_retry", 1).start()) {
            Canary canary = new Canary(t);
            Connection c = t.connect("alice", "alice_pw", "own", new Properties());
            c.createStatement().execute("select 1");
            own.kill();
            assertThatThrownBy(() -> c.createStatement().execute("select 1"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).startsWith("08"));
            c.close();
            own.restart();
            // back once server_login_retry (1 s) has passed: retried until then, within a generous deadline
            long deadline = System.nanoTime() + 30_000_000_000L;
            Integer nine = null;
            while (nine == null) {
                try (Connection again = t.connect("alice", "alice_pw", "own", new Properties());
                     Statement s = again.createStatement(); ResultSet rs = s.executeQuery("select 9")) {
                    rs.next();
                    nine = rs.getInt(1);
                } catch (SQLException e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(100);
                }
            }
            assertThat(nine).isEqualTo(9);
            canary.stop();
        }
    }
}
