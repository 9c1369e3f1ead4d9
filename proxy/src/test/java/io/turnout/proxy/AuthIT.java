package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.protocol.auth.Md5;
import io.turnout.protocol.auth.ScramSecret;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Clients authenticate to Turnout by every auth_type; Turnout authenticates to PostgreSQL by every method. */
class AuthIT {
    static final PgServer pg = PgServer.shared();

    private static String currentUser(Connection c) throws SQLException {
        ResultSet rs = c.createStatement().executeQuery("select current_user");
        rs.next();
        return rs.getString(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"trust", "plain", "md5", "scram-sha-256"})
    void clientAuthTypesWithPlainSecrets(String authType) throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("auth_type", authType).start()) {
            try (Connection c = t.connect()) {
                assertThat(currentUser(c)).isEqualTo("postgres");
            }
            if (!authType.equals("trust")) {
                assertThatThrownBy(() -> t.connect("alice", "nope", "app", new Properties()).close())
                        .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"plain", "md5", "scram-sha-256"})
    void clientAuthTypesWithHashedSecrets(String authType) throws Exception {
        // md5 and SCRAM verifiers in users.txt, as PgBouncer allows: each client auth_type must cope
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("auth_type", authType)
                .user("hashed_md5", Md5.hash("hashed_md5", "pw1"))
                .user("hashed_scram", ScramSecret.fromPassword("pw2").encode())
                .database("app_any", "dbname: app, user: postgres, password: postgres").start()) {
            try (Connection c = t.connect("hashed_md5", "pw1", "app_any", new Properties())) {
                assertThat(currentUser(c)).isEqualTo("postgres");
            }
            try (Connection c = t.connect("hashed_scram", "pw2", "app_any", new Properties())) {
                assertThat(currentUser(c)).isEqualTo("postgres");
            }
            assertThatThrownBy(() -> t.connect("hashed_scram", "bad", "app_any", new Properties()).close())
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
        }
    }

    @Test
    void serverLoginByEveryPostgresMethod() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg)
                .database("via_scram", "dbname: app, user: app_scram, password: scram_pw")
                .database("via_md5", "dbname: app, user: app_md5, password: md5_pw")
                .database("via_md5_hash", "dbname: app, user: app_md5, password: " + Md5.hash("app_md5", "md5_pw"))
                .database("via_plain", "dbname: app, user: app_plain, password: plain_pw")
                .database("via_trust", "dbname: app, user: app_trust")
                .start()) {
            for (String[] db : new String[][] {{"via_scram", "app_scram"}, {"via_md5", "app_md5"},
                    {"via_md5_hash", "app_md5"}, {"via_plain", "app_plain"}, {"via_trust", "app_trust"}}) {
                try (Connection c = t.connect("alice", "alice_pw", db[0], new Properties())) {
                    assertThat(currentUser(c)).as(db[0]).isEqualTo(db[1]);
                }
            }
        }
    }

    @Test
    void scramPassThroughWithVerifierOnlySecret() throws Exception {
        // users.txt holds only PostgreSQL's own verifier for app_scram; the server login borrows the keys
        // the client proved (no forced user on this database: servers log in as the client).
        String verifier = pg.psql("postgres", "select rolpassword from pg_authid where rolname = 'app_scram'").trim();
        assertThat(verifier).startsWith("SCRAM-SHA-256$");
        try (TurnoutFixture t = TurnoutFixture.builder(pg).user("app_scram", verifier)
                .database("own", "dbname: app").start()) {
            try (Connection c = t.connect("app_scram", "scram_pw", "own", new Properties())) {
                assertThat(currentUser(c)).isEqualTo("app_scram");
            }
        }
    }

    @Test
    void psqlThroughScram() {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).start()) {
            List<String> cmd = new ArrayList<>(t.clientArgs("psql", "app"));
            cmd.addAll(List.of("-X", "-A", "-t", "-c", "select current_user || ':' || current_database()"));
            Processes.Result r = Processes.run(Duration.ofSeconds(30), cmd, t.clientEnv(), null, null);
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(r.stdout().trim()).isEqualTo("postgres:app");
        }
    }
}
