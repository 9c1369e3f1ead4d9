package io.turnout.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.PgServer.Role;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Proves the {@link PgServer} fixture: every role and auth method over TCP, psql, and a private server's life cycle. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class PgServerIT {
    private static final int AUTH_OK = 0;
    private static final int AUTH_CLEARTEXT = 3;
    private static final int AUTH_MD5 = 5;
    private static final int AUTH_SASL = 10;

    @ParameterizedTest
    @EnumSource(Role.class)
    void everyRoleConnectsOverTcpWithItsAuthMethod(Role role) throws Exception {
        PgServer pg = PgServer.shared();
        assertThat(pg.host()).isEqualTo("127.0.0.1");

        int expected = switch (role.hbaMethod()) {
            case "scram-sha-256" -> AUTH_SASL;
            case "md5" -> AUTH_MD5;
            case "password" -> AUTH_CLEARTEXT;
            case "trust" -> AUTH_OK;
            default -> throw new AssertionError(role.hbaMethod());
        };
        assertThat(firstAuthRequest(pg, role.user(), PgServer.APP_DB))
                .as("authentication request the server sends %s", role.user())
                .isEqualTo(expected);

        String table = "fixture_" + role.name().toLowerCase();
        try (Connection c = pg.connect(role.user(), role.password(), PgServer.APP_DB);
             Statement st = c.createStatement()) {
            assertThat(single(st, "select current_user")).isEqualTo(role.user());
            assertThat(single(st, "select 1")).isEqualTo("1");
            assertThat(single(st, "select current_database()")).isEqualTo("app");
            st.execute("drop table if exists " + table);
            st.execute("create table " + table + " (x int)");
            st.execute("insert into " + table + " values (42)");
            assertThat(single(st, "select x from " + table)).isEqualTo("42");
            st.execute("drop table " + table);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Role.class, names = {"SUPERUSER", "SCRAM", "MD5", "PLAIN"})
    void aWrongPasswordIsRejected(Role role) {
        PgServer pg = PgServer.shared();
        assertThatThrownBy(() -> pg.connect(role.user(), "wrong", PgServer.APP_DB).close())
                .isInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("28P01"));
    }

    @Test
    void passwordsAreStoredAsScramExceptTheMd5Role() {
        String rows = PgServer.shared().psql("postgres",
                "select rolname, case when rolpassword like 'md5%' then rolpassword"
                        + " else split_part(coalesce(rolpassword, '-'), '$', 1) end from pg_authid"
                        + " where rolname in ('postgres', 'app_scram', 'app_md5', 'app_plain', 'app_trust')"
                        + " order by rolname");
        assertThat(rows.lines().toList()).containsExactly(
                "app_md5|md5" + md5Hex("md5_pw" + "app_md5"),
                "app_plain|SCRAM-SHA-256",
                "app_scram|SCRAM-SHA-256",
                "app_trust|-",
                "postgres|SCRAM-SHA-256");
    }

    @Test
    void psqlRunsScriptsAsSuperuserOverTheUnixSocket() {
        PgServer pg = PgServer.shared();
        assertThat(pg.psql("app", "select 1")).isEqualTo("1");
        assertThat(pg.psql("app", "select current_user, inet_server_addr() is null")).isEqualTo("postgres|t");
        assertThat(pg.psql("postgres", "select 1;\n\\c app\nselect current_database();")).isEqualTo("1\napp");
        assertThat(pg.psql("app", "show max_connections; show fsync; show wal_level; show password_encryption"))
                .isEqualTo("300\noff\nreplica\nscram-sha-256");
        assertThatThrownBy(() -> pg.psql("app", "select * from no_such_table"))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("relation \"no_such_table\" does not exist");
        assertThat(pg.logTail(50)).contains("no_such_table");
    }

    @Test
    void createdDatabasesAreUsableByEveryRole() throws Exception {
        PgServer pg = PgServer.shared();
        pg.createDatabase("fixture_extra");
        try {
            for (Role role : Role.values()) {
                try (Connection c = pg.connect(role, "fixture_extra"); Statement st = c.createStatement()) {
                    st.execute("create temp table t (x int)");
                    st.execute("create table t_" + role.name().toLowerCase() + " (x int)");
                    assertThat(single(st, "select current_database()")).isEqualTo("fixture_extra");
                }
            }
        } finally {
            pg.psql("postgres", "drop database fixture_extra with (force)");
        }
    }

    @Test
    void theSuperuserMayOpenAReplicationConnectionOverTcp() {
        PgServer pg = PgServer.shared();
        Map<String, String> env = new HashMap<>(PgServer.clientEnv());
        env.put("PGPASSWORD", "postgres");
        Processes.Result r = Processes.run(Duration.ofSeconds(30), List.of(pg.bin("psql"), "-X", "-A", "-t",
                "-c", "IDENTIFY_SYSTEM",
                "host=127.0.0.1 port=" + pg.port() + " user=postgres dbname=postgres replication=true"),
                env, null, null).orThrow();
        assertThat(r.stdout()).matches("(?s)\\d+\\|1\\|[0-9A-F]+/[0-9A-F]+\\|\\s*");
    }

    @Test
    void aPrivateServerCanBeKilledAndRestartedOnTheSamePort() throws Exception {
        PgServer shared = PgServer.shared();
        Path dir;
        try (PgServer pg = PgServer.start()) {
            dir = pg.baseDir();
            assertThat(pg.port()).isNotEqualTo(shared.port());
            assertThat(pg.dataDir()).isNotEqualTo(shared.dataDir());
            assertThat(pg.dataDir()).startsWith(Path.of("/tmp"));
            assertThat(pg.isRunning()).isTrue();
            int port = pg.port();
            pg.psql("app", "set synchronous_commit = on; create table kept (x int); insert into kept values (7);");

            pg.kill();
            assertThat(pg.isRunning()).isFalse();
            assertThatThrownBy(() -> pg.connect(Role.SCRAM, "app").close()).isInstanceOf(SQLException.class);
            assertThat(pg.logTail(20)).contains("immediate shutdown");

            pg.restart();
            assertThat(pg.isRunning()).isTrue();
            assertThat(pg.port()).isEqualTo(port);
            try (Connection c = pg.connect(Role.MD5, "app"); Statement st = c.createStatement()) {
                assertThat(single(st, "select x from kept")).isEqualTo("7");
            }

            pg.stop();
            assertThat(pg.isRunning()).isFalse();
            pg.restart();
            pg.restart(); // while running: stop, then start
            assertThat(pg.port()).isEqualTo(port);
            assertThat(pg.psql("app", "select count(*) from kept")).isEqualTo("1");
        }
        assertThat(Files.exists(dir)).as("private server directory removed by close()").isFalse();
        // the shared server is unaffected
        try (Connection c = shared.connect(Role.TRUST, "app"); Statement st = c.createStatement()) {
            assertThat(single(st, "select 1")).isEqualTo("1");
        }
    }

    private static String single(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    /** Sends a v3 StartupMessage and returns the code of the server's first Authentication message. */
    private static int firstAuthRequest(PgServer pg, String user, String db) throws IOException {
        try (Socket s = new Socket(pg.host(), pg.port())) {
            s.setSoTimeout(10_000);
            OutputStream os = s.getOutputStream();
            byte[] params = ("user\0" + user + "\0database\0" + db + "\0\0").getBytes(StandardCharsets.UTF_8);
            DataOutputStream out = new DataOutputStream(os);
            out.writeInt(8 + params.length);
            out.writeInt(196608);
            out.write(params);
            out.flush();
            InputStream is = s.getInputStream();
            DataInputStream in = new DataInputStream(is);
            byte type = in.readByte();
            int len = in.readInt();
            byte[] body = new byte[len - 4];
            in.readFully(body);
            if (type != 'R') {
                throw new AssertionError("expected an Authentication message, got '" + (char) type + "': "
                        + new String(body, StandardCharsets.UTF_8));
            }
            int code = ((body[0] & 0xff) << 24) | ((body[1] & 0xff) << 16) | ((body[2] & 0xff) << 8) | (body[3] & 0xff);
            if (code == AUTH_SASL) {
                assertThat(new String(body, 4, body.length - 4, StandardCharsets.UTF_8)).contains("SCRAM-SHA-256");
            }
            return code;
        }
    }

    private static String md5Hex(String s) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("MD5").digest(s.getBytes(StandardCharsets.UTF_8));
            StringBuilder sb = new StringBuilder();
            for (byte b : d) {
                sb.append(String.format("%02x", b));
            }
            return sb.toString();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
