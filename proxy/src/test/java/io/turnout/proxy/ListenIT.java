package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.RawClient;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LISTEN through a pool (issue 19 item 4): refused with 0A000 in transaction mode unless listen_mode: pin,
 * and never left registered on a server another client gets next. One event loop and one server per
 * pool, so the next client surely gets the server the previous one used (the tests check its pid).
 */
class ListenIT {
    static final Path PYTHON = Path.of("/usr/bin/python3");
    static PgServer pg;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
    }

    private static TurnoutFixture.Builder onePool() {
        return TurnoutFixture.builder(pg).set("workers", 1).set("default_pool_size", 1).set("query_wait_timeout", 20);
    }

    private static long channels(TurnoutFixture t) throws Exception {
        return channels(t, 0);
    }

    /** Channels registered on the server a new client gets; {@code pid}: that server's, when known. */
    private static long channels(TurnoutFixture t, int pid) throws Exception {
        try (Connection c = t.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "select pg_backend_pid(), (select count(*) from pg_listening_channels())")) {
            rs.next();
            if (pid != 0) {
                assertThat(rs.getInt(1)).as("the same server").isEqualTo(pid);
            }
            return rs.getLong(2);
        }
    }

    /** The backend pid of the server serving {@code raw} now. */
    private static int backendPid(RawClient raw) throws Exception {
        raw.send(RawClient.query("select pg_backend_pid()"));
        int pid = 0;
        for (RawClient.Message m = raw.read(); m.type() != 'Z'; m = raw.read()) {
            if (m.type() == 'D') {
                int len = java.nio.ByteBuffer.wrap(m.body(), 2, 4).getInt();
                pid = Integer.parseInt(new String(m.body(), 6, len, java.nio.charset.StandardCharsets.US_ASCII));
            }
        }
        return pid;
    }

    @Test
    void transactionModeRefusesListenInBothProtocolsAndTheConnectionGoesOn() throws Exception {
        try (TurnoutFixture t = onePool().set("auth_type", "trust").start();
             RawClient raw = new RawClient(t.port())) {
            raw.send(RawClient.startup("user", "alice", "database", "app"));
            assertThat(raw.readUntilReady()).isNull();
            raw.send(RawClient.query("  /* a comment */ -- and another\n\tlisten \"Chan\""));
            RawClient.Message e = raw.readError();
            assertThat(e.field('C')).isEqualTo("0A000");
            assertThat(e.field('M')).contains("LISTEN is not supported in transaction pooling mode");
            assertThat(e.field('H')).contains("session");
            assertThat(raw.readUntilReady()).isNull();
            // extended protocol, pipelined after and before other work
            raw.send(RawClient.cat(RawClient.query("select 1"), RawClient.parse("l1", "LISTEN chan"),
                    RawClient.bind("l1"), RawClient.execute(), RawClient.sync(), RawClient.query("select 2")));
            assertThat(raw.readUntilReady()).isNull();
            assertThat(raw.readUntilReady()).isEqualTo("0A000");
            assertThat(raw.readUntilReady()).isNull();
            // UNLISTEN and names that only start with the word pass
            raw.send(RawClient.query("UNLISTEN *"));
            assertThat(raw.readUntilReady()).isNull();
            raw.send(RawClient.query("select 1 as listener"));
            assertThat(raw.readUntilReady()).isNull();
        }
    }

    @Test
    void aListenTurnoutCannotSeeIsUndoneBeforeTheServerIsReused() throws Exception {
        try (TurnoutFixture t = onePool().set("auth_type", "trust").start();
             RawClient raw = new RawClient(t.port())) {
            raw.send(RawClient.startup("user", "alice", "database", "app"));
            assertThat(raw.readUntilReady()).isNull();
            int pid = backendPid(raw);
            raw.send(RawClient.query("select 1; LISTEN leaked_chan")); // not at the start: runs
            assertThat(raw.readUntilReady()).isNull();
            assertThat(channels(t, pid)).as("channels on the reused server").isZero();
        }
    }

    @Test
    void sessionModeUnlistensEvenWhenTheResetQueryDoesNot() throws Exception {
        try (TurnoutFixture t = onePool().set("pool_mode", "session").set("server_reset_query", "DEALLOCATE ALL")
                .start()) {
            int pid;
            try (Connection c = t.connect(); Statement s = c.createStatement()) {
                s.execute("LISTEN session_chan");
                ResultSet rs = s.executeQuery("select pg_backend_pid()");
                rs.next();
                pid = rs.getInt(1);
            }
            assertThat(channels(t, pid)).isZero();
        }
    }

    @Test
    void psycopgAndAsyncpgAreRefused() {
        try (TurnoutFixture t = onePool().start()) {
            runPython(t, "listen_psycopg_check.py", "error");
            runPython(t, "listen_asyncpg_check.py", "error");
        }
    }

    @Test
    void psycopgAndAsyncpgReceiveNotificationsWhenPinned() throws Exception {
        try (TurnoutFixture t = onePool().set("listen_mode", "pin").start()) {
            runPython(t, "listen_psycopg_check.py", "pin");
            runPython(t, "listen_asyncpg_check.py", "pin");
            assertThat(channels(t)).isZero();
        }
    }

    private static void runPython(TurnoutFixture t, String script, String mode) {
        Map<String, String> env = t.clientEnv();
        env.put("TURNOUT_PORT", String.valueOf(t.port()));
        env.put("PG_DIRECT_PORT", String.valueOf(pg.port()));
        env.put("LISTEN_MODE", mode);
        String path;
        try {
            path = Path.of(ListenIT.class.getResource("/drivers/" + script).toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        List<String> cmd = List.of(PYTHON.toString(), path);
        Processes.Result r = Processes.run(Duration.ofSeconds(120), cmd, env, null, null);
        assertThat(r.exitCode()).as(String.join(" ", cmd) + " (" + mode + ")\n" + r.stdout() + r.stderr()).isZero();
        assertThat(r.stdout()).as(r.stderr()).contains("OK 1");
    }
}
