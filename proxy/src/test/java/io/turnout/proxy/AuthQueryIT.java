package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Users missing from auth_file are looked up with auth_query, run as auth_user on the backend. */
class AuthQueryIT {
    static final PgServer pg = PgServer.shared();

    private static TurnoutFixture start(String authType) {
        return TurnoutFixture.builder(pg).set("auth_type", authType)
                .set("auth_user", "postgres").user("postgres", "postgres")
                .database("own", "dbname: app")
                .start();
    }

    private static String currentUser(Connection c) throws SQLException {
        ResultSet rs = c.createStatement().executeQuery("select current_user");
        rs.next();
        return rs.getString(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"scram-sha-256", "md5", "plain"})
    void usersFoundByAuthQueryLogInAndServersLogInAsThem(String authType) throws Exception {
        try (TurnoutFixture t = start(authType)) {
            // app_scram has a SCRAM verifier in pg_authid: its server login borrows the client's SCRAM keys
            // (so only a SCRAM client login can lend them); app_md5 has an md5 hash, usable either way.
            if (authType.equals("scram-sha-256")) {
                try (Connection c = t.connect("app_scram", "scram_pw", "own", new Properties())) {
                    assertThat(currentUser(c)).isEqualTo("app_scram");
                }
            }
            try (Connection c = t.connect("app_md5", "md5_pw", "own", new Properties())) {
                assertThat(currentUser(c)).isEqualTo("app_md5");
            }
            assertThatThrownBy(() -> t.connect("app_md5", "wrong", "own", new Properties()).close())
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
            assertThatThrownBy(() -> t.connect("nobody_here", "x", "own", new Properties()).close())
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
        }
    }

    @Test
    void aPasswordChangedInPostgresTakesEffectAtTheNextLogin() throws Exception {
        pg.psql("postgres", "DROP ROLE IF EXISTS aq_user; SET password_encryption = 'md5'; "
                + "CREATE ROLE aq_user LOGIN PASSWORD 'first'; GRANT CONNECT ON DATABASE app TO aq_user");
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("auth_type", "md5").set("auth_user", "postgres")
                .user("postgres", "postgres").database("shared_login", "dbname: app, user: postgres, password: postgres")
                .start()) {
            try (Connection c = t.connect("aq_user", "first", "shared_login", new Properties())) {
                assertThat(currentUser(c)).isEqualTo("postgres");
            }
            pg.psql("postgres", "SET password_encryption = 'md5'; ALTER ROLE aq_user PASSWORD 'second'");
            assertThatThrownBy(() -> t.connect("aq_user", "first", "shared_login", new Properties()).close())
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
            try (Connection c = t.connect("aq_user", "second", "shared_login", new Properties())) {
                assertThat(currentUser(c)).isEqualTo("postgres");
            }
        }
    }
}
