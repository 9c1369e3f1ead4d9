package io.turnout.proxy.testing;

import io.turnout.config.ConfigLoader;
import io.turnout.proxy.TurnoutServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * A Turnout started in-process from a real YAML file (so tests go through ConfigLoader too), listening
 * on a free port in front of a {@link PgServer}. Database {@code app} logs in to PostgreSQL as the
 * superuser; clients authenticate against users.txt, which holds {@code alice}/{@code alice_pw} plus any
 * users a test adds.
 */
public final class TurnoutFixture implements AutoCloseable {
    public static final String USER = "alice";
    public static final String PASSWORD = "alice_pw";

    private final TurnoutServer server;
    private final Path dir;

    private TurnoutFixture(TurnoutServer server, Path dir) {
        this.server = server;
        this.dir = dir;
    }

    public static Builder builder(PgServer pg) {
        return new Builder(pg);
    }

    /** A Turnout with no default {@code app} database: the test configures every database itself. */
    public static Builder builder() {
        return new Builder(null);
    }

    public static final class Builder {
        private final PgServer pg;
        private final Map<String, String> settings = new LinkedHashMap<>();
        private final Map<String, String> databases = new LinkedHashMap<>();
        private final Map<String, String> users = new LinkedHashMap<>();

        private Builder(PgServer pg) {
            this.pg = pg;
            settings.put("listen_addr", "127.0.0.1");
            settings.put("listen_port", "0");
            settings.put("auth_type", "scram-sha-256");
            settings.put("auth_file", "users.txt");
            settings.put("pool_mode", "transaction");
            settings.put("default_pool_size", "10");
            settings.put("max_client_conn", "1000");
            settings.put("workers", "2");
            // -Dturnout.it.transport=epoll (or io_uring) runs every fixture on that transport (a test's own set() still wins)
            String transport = System.getProperty("turnout.it.transport");
            if (transport != null && !transport.isBlank()) {
                settings.put("transport", transport);
            }
            users.put(USER, PASSWORD);
            if (pg != null) {
                database("app", "dbname: app, user: postgres, password: postgres");
            }
        }

        /** A top-level key, written verbatim as {@code key: value}. */
        public Builder set(String key, Object value) {
            settings.put(key, String.valueOf(value));
            return this;
        }

        /** A database entry: {@code fields} is the inside of a YAML flow mapping; host/port are added. */
        public Builder database(String name, String fields) {
            databases.put(name, "{ host: " + pg.host() + ", port: " + pg.port() + (fields.isEmpty() ? "" : ", ")
                    + fields + " }");
            return this;
        }

        /** A database entry pointing wherever {@code fields} says (host and port included). */
        public Builder rawDatabase(String name, String fields) {
            databases.put(name, "{ " + fields + " }");
            return this;
        }

        /** Leaves out the default {@code app} database (a test that configures only its own). */
        public Builder withoutDefaultDatabase() {
            databases.remove("app");
            return this;
        }

        public Builder user(String name, String secret) {
            users.put(name, secret);
            return this;
        }

        public String yaml() {
            StringBuilder y = new StringBuilder();
            settings.forEach((k, v) -> y.append(k).append(": ").append(v).append('\n'));
            y.append("databases:\n");
            databases.forEach((k, v) -> y.append("  ").append(k).append(": ").append(v).append('\n'));
            return y.toString();
        }

        public TurnoutFixture start() {
            try {
                Path dir = Files.createTempDirectory("turnout-it-");
                StringBuilder u = new StringBuilder();
                users.forEach((k, v) -> u.append('"').append(k).append("\" \"").append(v.replace("\"", "\"\""))
                        .append("\"\n"));
                Files.writeString(dir.resolve("users.txt"), u);
                Path file = dir.resolve("turnout.yaml");
                Files.writeString(file, yaml());
                return new TurnoutFixture(TurnoutServer.start(ConfigLoader.load(file)), dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (Exception e) {
                throw new IllegalStateException("Turnout failed to start", e);
            }
        }
    }

    public int port() {
        return server.port();
    }

    public TurnoutServer server() {
        return server;
    }

    public String jdbcUrl(String db) {
        return "jdbc:postgresql://127.0.0.1:" + port() + "/" + db;
    }

    public Connection connect() throws SQLException {
        return connect(USER, PASSWORD, "app", new Properties());
    }

    public Connection connect(Properties extra) throws SQLException {
        return connect(USER, PASSWORD, "app", extra);
    }

    public Connection connect(String user, String password, String db, Properties extra) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) {
            p.setProperty("password", password);
        }
        // pgjdbc waits sslResponseTimeout (default 5 s) for the SSLRequest answer: 200 test threads deriving
        // SCRAM keys at once on a busy 2-core box starve the event loops for longer (TransactionPoolingIT failed
        // twice so in clean-clone CI runs at load 25)
        p.setProperty("connectTimeout", "60");
        p.setProperty("sslResponseTimeout", "60000");
        p.setProperty("socketTimeout", "120"); // a login waits its turn on a busy CI box too
        p.putAll(extra);
        return DriverManager.getConnection(jdbcUrl(db), p);
    }

    /** psql (or pgbench...) arguments that reach this Turnout, and the environment with the password. */
    public List<String> clientArgs(String program, String db) {
        List<String> cmd = new ArrayList<>();
        cmd.add(program);
        cmd.addAll(List.of("-h", "127.0.0.1", "-p", String.valueOf(port()), "-U", USER));
        cmd.add(db);
        return cmd;
    }

    public Map<String, String> clientEnv() {
        Map<String, String> env = PgServer.clientEnv();
        env.put("PGPASSWORD", PASSWORD);
        return env;
    }

    public Path dir() {
        return dir;
    }

    @Override
    public void close() {
        server.close();
        OwnedDirs.deleteTree(dir);
    }
}
