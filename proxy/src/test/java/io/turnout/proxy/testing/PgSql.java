package io.turnout.proxy.testing;

import io.turnout.proxy.testing.PgServer.Role;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

/**
 * The SQL side of a {@link PgServer}: psql as the superuser over the unix socket, pgjdbc connections over TCP,
 * and the roles and databases every test server has.
 */
final class PgSql {
    private final PgServer server;

    PgSql(PgServer server) {
        this.server = server;
    }

    /** See {@link PgServer#psql(String, String, Duration)}. */
    String psql(String db, String sql, Duration timeout) {
        List<String> cmd = List.of(server.bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", server.socketDir().toString(), "-p", Integer.toString(server.port()), "-U", "postgres",
                "-d", db, "-f", "-");
        Processes.Result r = Processes.run(timeout, cmd, PgServer.clientEnv(), null, sql);
        if (!r.ok()) {
            throw new AssertionError("psql -d " + db + " failed (exit " + r.exitCode() + "): " + r.stderr().strip()
                    + "\n--- sql ---\n" + sql + "\n--- stdout ---\n" + r.stdout());
        }
        String out = r.stdout();
        while (out.endsWith("\n")) {
            out = out.substring(0, out.length() - 1);
        }
        return out;
    }

    /** Connects over TCP with pgjdbc; {@code password} may be null (trust). */
    Connection connect(String user, String password, String db) throws SQLException {
        return connect(server.jdbcUrl(db), user, password, Duration.ofSeconds(10), Duration.ofSeconds(120));
    }

    /** A pgjdbc connection named turnout-test; {@code password} may be null (trust). */
    static Connection connect(String url, String user, String password, Duration connectTimeout,
            Duration socketTimeout) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        if (password != null) {
            props.setProperty("password", password);
        }
        props.setProperty("connectTimeout", Long.toString(connectTimeout.toSeconds()));
        props.setProperty("sslResponseTimeout", Long.toString(connectTimeout.toMillis())); // default 5 s
        props.setProperty("socketTimeout", Long.toString(socketTimeout.toSeconds()));
        props.setProperty("ApplicationName", "turnout-test");
        return DriverManager.getConnection(url, props);
    }

    /** See {@link PgServer#createDatabase(String)}. */
    void createDatabase(String name, Duration timeout) {
        String id = "\"" + name.replace("\"", "\"\"") + "\"";
        String roles = String.join(", ", Role.SCRAM.user(), Role.MD5.user(), Role.PLAIN.user(), Role.TRUST.user());
        psql("postgres", "CREATE DATABASE " + id + " OWNER postgres;\n"
                + "GRANT ALL ON DATABASE " + id + " TO " + roles + ";\n"
                + "\\c " + id + "\n"
                + "GRANT ALL ON SCHEMA public TO " + roles + ";\n"
                + "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES TO " + roles + ";\n"
                + "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES TO " + roles
                + ";\n", timeout);
    }

    /** The roles of {@link Role} with their passwords (md5 stored as MD5), and database {@value PgServer#APP_DB}. */
    void bootstrap(Duration timeout) {
        String roles = String.join("\n",
                "SET password_encryption = 'scram-sha-256';",
                "ALTER ROLE postgres PASSWORD 'postgres';",
                "CREATE ROLE app_scram LOGIN PASSWORD 'scram_pw';",
                "CREATE ROLE app_plain LOGIN PASSWORD 'plain_pw';",
                "CREATE ROLE app_trust LOGIN;",
                "SET password_encryption = 'md5';",
                "CREATE ROLE app_md5 LOGIN PASSWORD 'md5_pw';",
                "RESET password_encryption;",
                "");
        psql("postgres", roles, timeout);
        createDatabase(PgServer.APP_DB, timeout);
    }
}
