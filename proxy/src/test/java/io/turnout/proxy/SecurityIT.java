package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.turnout.protocol.auth.Md5;
import io.turnout.protocol.auth.ScramSecret;
import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.RawClient;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The proxy side of the README's Security section: what is never shown or logged, and the refusal codes. */
class SecurityIT {
    private static final List<String> SECRETS = List.of("alice_pw", "ops_pw_secret", "watcher_pw_secret", "scram_pw",
            "wrong_db_pw_secret", "guess_pw_secret");

    private static TurnoutFixture start(String authType) {
        PgServer pg = PgServer.shared();
        return TurnoutFixture.builder(pg).set("auth_type", authType).set("admin_users", "ops")
                .set("stats_users", "watcher").user("ops", "ops_pw_secret").user("watcher", "watcher_pw_secret")
                .database("vault", "dbname: app, user: app_scram, password: scram_pw")
                .database("badpw", "dbname: app, user: app_scram, password: wrong_db_pw_secret").start();
    }

    /** Cleartext logins (wrong and right), a server login refused, every SHOW: no secret in any output or log. */
    @Test
    void noShowCommandAndNoLogLineCarriesASecret() throws Exception {
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.addAppender(logs);
        List<String> shown = new ArrayList<>();
        try (TurnoutFixture t = start("plain")) {
            assertThatThrownBy(() -> t.connect("alice", "guess_pw_secret", "app", new Properties()))
                    .isInstanceOf(SQLException.class).extracting(e -> ((SQLException) e).getSQLState()).isEqualTo("28P01");
            assertThatThrownBy(() -> t.connect("alice", "alice_pw", "badpw", new Properties()))
                    .isInstanceOf(SQLException.class);
            try (Connection c = t.connect("alice", "alice_pw", "vault", new Properties());
                 AdminClient admin = new AdminClient(t, "ops", "ops_pw_secret")) {
                c.createStatement().execute("select 1");
                admin.execute("RELOAD");
                for (String what : List.of("CONFIG", "USERS", "DATABASES", "POOLS", "CLIENTS", "SERVERS", "LISTS",
                        "STATS", "STATS_TOTALS", "STATS_AVERAGES", "TOTALS", "STATE", "VERSION", "TOPOLOGY", "PREPARED")) {
                    AdminClient.Table table = admin.query("SHOW " + what);
                    table.rows().forEach(r -> r.values().forEach(v -> shown.add(what + ": " + v)));
                }
            }
        } finally {
            root.detachAppender(logs);
        }
        assertThat(shown).anyMatch(s -> s.startsWith("CONFIG: auth_file")).hasSizeGreaterThan(50);
        for (String secret : SECRETS) {
            assertThat(shown).as("SHOW output").noneMatch(s -> s.contains(secret));
            assertThat(logs.list).as("log lines").noneMatch(e -> e.getFormattedMessage().contains(secret)
                    || e.getThrowableProxy() != null && String.valueOf(e.getThrowableProxy().getMessage()).contains(secret));
        }
        assertThat(logs.list).anyMatch(e -> e.getFormattedMessage().startsWith("client_auth_failed"))
                .anyMatch(e -> e.getFormattedMessage().startsWith("server_login_failed"));
    }

    /** The admin console's refusals, by SQLSTATE (PgBouncer's words, PostgreSQL's codes). */
    @Test
    void adminConsoleRefusalsCarryTheirSqlStates() throws Exception {
        try (TurnoutFixture t = start("scram-sha-256")) {
            assertThat(sqlState(() -> t.connect("alice", "alice_pw", "pgbouncer", new Properties()))).isEqualTo("28000");
            // told only after authentication: without the password nobody learns who may use the console
            assertThat(sqlState(() -> t.connect("alice", "guess_pw_secret", "pgbouncer", new Properties()))).isEqualTo("28P01");
            assertThat(sqlState(() -> t.connect("ops", "guess_pw_secret", "pgbouncer", new Properties()))).isEqualTo("28P01");
            try (AdminClient watcher = new AdminClient(t, "watcher", "watcher_pw_secret");
                 AdminClient ops = new AdminClient(t, "ops", "ops_pw_secret")) {
                assertThat(watcher.query("SHOW POOLS").rows()).isNotEmpty();
                assertThat(sqlState(() -> watcher.execute("PAUSE"))).isEqualTo("42501");
                assertThat(sqlState(() -> watcher.execute("SET default_pool_size = 3"))).isEqualTo("42501");
                assertThat(sqlState(() -> ops.execute("FROB"))).isEqualTo("42601");
                assertThat(sqlState(() -> ops.execute("SET no_such_key = 1"))).isEqualTo("22023");
            }
            try (Connection extended = t.connect("ops", "ops_pw_secret", "pgbouncer", new Properties())) {
                assertThat(sqlState(() -> extended.createStatement().executeQuery("SHOW POOLS"))).isEqualTo("0A000");
            }
        }
    }

    /**
     * Each kind of auth_file secret (plain, md5, SCRAM verifier) checked against a cleartext password, the
     * path whose comparisons are constant-time: the right password passes, a wrong one of the same length,
     * a prefix and an extension do not.
     */
    @Test
    void cleartextPasswordsAreCheckedAgainstEveryKindOfSecret() throws Exception {
        PgServer pg = PgServer.shared();
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("auth_type", "plain")
                .user("md5user", Md5.hash("md5user", "right_pw_1"))
                .user("scramuser", ScramSecret.fromPassword("right_pw_1").encode())
                .user("plainuser", "right_pw_1").start()) {
            for (String user : List.of("plainuser", "md5user", "scramuser")) {
                try (Connection c = t.connect(user, "right_pw_1", "app", new Properties())) {
                    assertThat(c.isValid(5)).isTrue();
                }
                for (String wrong : List.of("right_pw_2", "right_pw_", "right_pw_12")) {
                    assertThat(sqlState(() -> t.connect(user, wrong, "app", new Properties()))).as(user + " " + wrong)
                            .isEqualTo("28P01");
                }
            }
        }
    }

    /** SCRAM for a user missing from the auth file shows a salt as stable as a real user's, then 28P01. */
    @Test
    void anUnknownUserCannotBeToldFromAKnownOneBySalt() throws Exception {
        try (TurnoutFixture t = start("scram-sha-256")) {
            for (String user : List.of("alice", "nobody_here")) {
                String first = serverFirst(t, user);
                assertThat(serverFirst(t, user)).as(user + "'s salt and iterations").isEqualTo(first);
                assertThat(first).matches("s=[A-Za-z0-9+/=]{24},i=4096");
            }
        }
    }

    /** One SCRAM exchange with a made-up proof: the salt and iteration count of server-first-message. */
    private static String serverFirst(TurnoutFixture t, String user) throws Exception {
        try (RawClient c = new RawClient(t.port())) {
            c.send(RawClient.startup("user", user, "database", "app"));
            assertThat(c.read().type()).isEqualTo('R');
            byte[] first = "n,,n=,r=abcdefghijklmnopqrstuvwx".getBytes(StandardCharsets.US_ASCII);
            c.send(RawClient.message('p', RawClient.cat(RawClient.cstr("SCRAM-SHA-256"),
                    java.nio.ByteBuffer.allocate(4).putInt(first.length).array(), first)));
            RawClient.Message m = c.read();
            String serverFirst = new String(m.body(), 4, m.body().length - 4, StandardCharsets.US_ASCII);
            String nonce = serverFirst.substring(2, serverFirst.indexOf(','));
            c.send(RawClient.message('p', ("c=biws,r=" + nonce + ",p=" + java.util.Base64.getEncoder()
                    .encodeToString(new byte[32])).getBytes(StandardCharsets.US_ASCII)));
            assertThat(c.readError().field('C')).isEqualTo("28P01");
            return serverFirst.substring(serverFirst.indexOf(',') + 1);
        }
    }

    private interface Call {
        void run() throws Exception;
    }

    private static String sqlState(Call call) {
        try {
            call.run();
        } catch (SQLException e) {
            return e.getSQLState();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("expected an SQLException");
    }
}
