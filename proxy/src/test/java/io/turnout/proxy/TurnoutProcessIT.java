package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
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
import java.util.concurrent.TimeUnit;
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
    @TempDir
    Path dir;

    @Test
    void sighupReloadsAndShutdownExitsCleanly() throws Exception {
        List<String> java = List.of("env", "--default-signal=HUP", javaBin());
        int port = freePort();
        Path config = dir.resolve("turnout.yaml");
        String yaml = writeConfig(config, port);
        Process p = start(java, config);
        try {
            try (Connection admin = awaitConsole(port)) {
                assertThat(setting(admin, "default_pool_size")).isEqualTo("10");
                Files.writeString(config, yaml.replace("default_pool_size: 10", "default_pool_size: 4"));
                Processes.run(Duration.ofSeconds(10), List.of("kill", "-HUP", String.valueOf(p.pid()))).orThrow();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!setting(admin, "default_pool_size").equals("4") && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertThat(setting(admin, "default_pool_size")).as(Files.readString(dir.resolve("turnout.log")))
                        .isEqualTo("4");
                admin.createStatement().execute("SHUTDOWN");
            } catch (SQLException e) {
                // SHUTDOWN may close the console before its reply arrives
            }
            assertThat(p.waitFor(15, TimeUnit.SECONDS)).as("exits after SHUTDOWN").isTrue();
            assertThat(p.exitValue()).as(Files.readString(dir.resolve("turnout.log"))).isZero();
        } finally {
            Processes.destroyTree(p);
        }
    }

    /** Under nohup SIGHUP cannot reload (no JVM can handle it then): Turnout says so at start, not silently. */
    @Test
    void anIgnoredSighupIsLoggedAtStart() throws Exception {
        int port = freePort();
        Path config = dir.resolve("turnout.yaml");
        writeConfig(config, port);
        Process p = start(List.of("sh", "-c", "trap '' HUP; exec \"$0\" \"$@\"", javaBin()), config);
        try {
            try (Connection admin = awaitConsole(port)) {
                // the handlers are installed before the listener opens: the console answering implies the line
                assertThat(Files.readString(dir.resolve("turnout.log"))).contains("signal_ignored signal=HUP");
                admin.createStatement().execute("SHUTDOWN");
            } catch (SQLException e) {
                // SHUTDOWN may close the console before its reply arrives
            }
            assertThat(p.waitFor(15, TimeUnit.SECONDS)).as("exits after SHUTDOWN").isTrue();
        } finally {
            Processes.destroyTree(p);
        }
    }

    private Process start(List<String> java, Path config) throws Exception {
        Path jar = Path.of("target", "turnout.jar").toAbsolutePath();
        assertThat(jar).exists();
        List<String> cmd = new java.util.ArrayList<>(java);
        cmd.addAll(List.of("-jar", jar.toString(), "--config", config.toString()));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("turnout.log").toFile())
                .start();
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

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static Connection awaitConsole(int port) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", "ops");
        props.setProperty("password", "ops_pw");
        props.setProperty("preferQueryMode", "simple");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/pgbouncer", props);
            } catch (SQLException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    private static String setting(Connection admin, String key) throws SQLException {
        try (ResultSet rs = admin.createStatement().executeQuery("SHOW CONFIG")) {
            while (rs.next()) {
                if (rs.getString("key").equals(key)) {
                    return rs.getString("value");
                }
            }
        }
        throw new AssertionError("no setting " + key);
    }
}
