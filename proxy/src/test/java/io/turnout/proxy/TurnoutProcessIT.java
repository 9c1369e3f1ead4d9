package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.Await;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.TurnoutProcess;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar as operators run it: SIGHUP reloads the file, SHUTDOWN from the console exits 0.
 *
 * <p>A child inherits its parent's ignored signals, and a JVM cannot handle a signal ignored at its start: under
 * a CI runner started with nohup, SIGHUP reached nothing. So the reload test starts the JVM the way bin/turnout
 * does, with SIGHUP at its default, and a second test pins down what Turnout says when it is not.
 */
class TurnoutProcessIT {
    /** Every wait here: many times what a quiet machine needs, as CI is a busy 2-core box. */
    private static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @Test
    void sighupReloadsAndShutdownExitsCleanly() throws Exception {
        int port = freePort();
        Path config = dir.resolve("turnout.yaml");
        String yaml = writeConfig(config, port);
        try (TurnoutProcess t = TurnoutProcess.start(config, List.of("env", "--default-signal=HUP"))) {
            try (Connection admin = awaitConsole(port, t)) {
                assertThat(setting(admin, "default_pool_size")).isEqualTo("10");
                Files.writeString(config, yaml.replace("default_pool_size: 10", "default_pool_size: 4"));
                t.signal("HUP");
                Await.until("SIGHUP to reload default_pool_size", WAIT,
                        () -> setting(admin, "default_pool_size").equals("4"), () -> log(t));
                admin.createStatement().execute("SHUTDOWN");
            } catch (SQLException e) {
                // SHUTDOWN may close the console before its reply arrives
            }
            assertThat(t.awaitExit(WAIT)).as("exit code after SHUTDOWN\n%s", log(t)).isZero();
        }
    }

    /** Under nohup SIGHUP cannot reload (no JVM can handle it then): Turnout says so at start, not silently. */
    @Test
    void anIgnoredSighupIsLoggedAtStart() throws Exception {
        int port = freePort();
        Path config = dir.resolve("turnout.yaml");
        writeConfig(config, port);
        try (TurnoutProcess t = TurnoutProcess.start(config, List.of("sh", "-c", "trap '' HUP; exec \"$0\" \"$@\""))) {
            try (Connection admin = awaitConsole(port, t)) {
                // the handlers are installed before the listener opens: the console answering implies the line
                assertThat(log(t)).contains("signal_ignored signal=HUP");
                admin.createStatement().execute("SHUTDOWN");
            } catch (SQLException e) {
                // SHUTDOWN may close the console before its reply arrives
            }
            t.awaitExit(WAIT);
        }
    }

    private String writeConfig(Path config, int port) throws Exception {
        PgServer pg = PgServer.shared();
        Files.writeString(dir.resolve("users.txt"), "\"ops\" \"ops_pw\"\n");
        String yaml = "listen_port: " + port + "\nauth_file: users.txt\nadmin_users: ops\ndefault_pool_size: 10\n"
                + "databases:\n  app: { host: " + pg.host() + ", port: " + pg.port()
                + ", user: postgres, password: postgres }\n";
        Files.writeString(config, yaml);
        return yaml;
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String log(TurnoutProcess t) {
        try {
            return Files.readString(t.logFile());
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** The admin console once the JVM listens; a JVM start on a busy 2-core CI box can take tens of seconds. */
    private static Connection awaitConsole(int port, TurnoutProcess t) {
        Properties props = new Properties();
        props.setProperty("user", "ops");
        props.setProperty("password", "ops_pw");
        props.setProperty("preferQueryMode", "simple");
        return Await.value("the admin console on port " + port, WAIT, Duration.ofMillis(100), () -> {
            if (!t.isAlive()) {
                throw new Await.Abort("turnout exited");
            }
            try {
                return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/pgbouncer", props);
            } catch (SQLException e) {
                throw new IllegalStateException(e); // not listening yet
            }
        }, () -> log(t));
    }

    private static String setting(Connection admin, String key) {
        try (ResultSet rs = admin.createStatement().executeQuery("SHOW CONFIG")) {
            while (rs.next()) {
                if (rs.getString("key").equals(key)) {
                    return rs.getString("value");
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("SHOW CONFIG", e);
        }
        throw new AssertionError("no setting " + key);
    }
}
