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

/** The packaged jar as operators run it: SIGHUP reloads the file, SHUTDOWN from the console exits 0. */
class TurnoutProcessIT {
    @TempDir
    Path dir;

    @Test
    void sighupReloadsAndShutdownExitsCleanly() throws Exception {
        PgServer pg = PgServer.shared();
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Files.writeString(dir.resolve("users.txt"), "\"ops\" \"ops_pw\"\n");
        Path config = dir.resolve("turnout.yaml");
        String yaml = "listen_port: " + port + "\nauth_file: users.txt\nadmin_users: ops\ndefault_pool_size: 10\n"
                + "databases:\n  app: { host: " + pg.host() + ", port: " + pg.port()
                + ", user: postgres, password: postgres }\n";
        Files.writeString(config, yaml);
        Path jar = Path.of("target", "turnout.jar").toAbsolutePath();
        assertThat(jar).exists();
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", jar.toString(), "--config", config.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("turnout.log").toFile()).start();
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
