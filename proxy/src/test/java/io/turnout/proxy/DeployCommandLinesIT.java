package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.turnout.proxy.testing.DebianPackages;
import io.turnout.proxy.testing.Processes;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command lines the deploy files run, with the packaged jar in place of /opt/turnout/turnout.jar: the
 * image's ENTRYPOINT with its TURNOUT_JAVA_OPTS (so this JDK accepts the JVM flags), its HEALTHCHECK command
 * following /ready, its STOPSIGNAL ending the process with a status the systemd unit counts as success; and
 * the unit's ExecStart with its Environment=.
 */
class DeployCommandLinesIT {
    private static final Path JAR = Path.of("target", "turnout.jar").toAbsolutePath();
    private static final Path JAVA_BIN = Path.of(System.getProperty("java.home"), "bin");

    @TempDir
    Path dir;

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A Turnout that is ready without a backend: a static database is always "known". */
    private Path config(int port, int metricsPort) throws Exception {
        Path yaml = dir.resolve("turnout.yaml");
        Files.writeString(yaml, "listen_addr: 127.0.0.1\nlisten_port: " + port + "\nauth_type: trust\n"
                + "admin_users: [ops]\nmetrics_addr: 127.0.0.1\nmetrics_port: " + metricsPort + "\n"
                + "databases:\n  app: { host: 127.0.0.1, port: 1 }\n");
        return yaml;
    }

    private static String dockerfile() throws Exception {
        // continuation lines joined, as Docker reads them
        return Files.readString(DockerFilesTest.DOCKER.resolve("Dockerfile")).replaceAll("\\\\\n\\s*", "");
    }

    private static String instruction(String dockerfile, String name) {
        Matcher m = Pattern.compile("(?m)^" + name + " (.+)$").matcher(dockerfile);
        assertThat(m.find()).as("Dockerfile has " + name).isTrue();
        return m.group(1).strip();
    }

    private static void awaitListening(Process p, int port, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (java.io.IOException e) {
                assertThat(p.isAlive()).as(Files.readString(log)).isTrue();
                assertThat(System.nanoTime()).as("listening within 30 s: " + Files.readString(log)).isLessThan(deadline);
                Thread.sleep(100);
            }
        }
    }

    private static Process start(List<String> cmd, Map<String, String> env, Path log) throws Exception {
        assertThat(JAR).as("the packaged jar (mvn package)").exists();
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        pb.environment().put("PATH", JAVA_BIN + ":" + System.getenv("PATH")); // the image's java is on PATH
        return pb.start();
    }

    private static int stop(Process p, String signal, Path log) throws Exception {
        Processes.run(Duration.ofSeconds(10), List.of("kill", "-" + signal, String.valueOf(p.pid()))).orThrow();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("exits after SIG" + signal + ": " + Files.readString(log)).isTrue();
        return p.exitValue();
    }

    private static int healthcheck(String command, int metricsPort) {
        return Processes.run(Duration.ofSeconds(10), List.of("/bin/sh", "-c", command),
                Map.of("METRICS_PORT", String.valueOf(metricsPort)), null, null).exitCode();
    }

    @Test
    void theImagesEntrypointHealthcheckAndStopSignalWork() throws Exception {
        DebianPackages.ensure("curl", List.of(Path.of("/usr/bin/curl")));
        String df = dockerfile();
        List<String> entrypoint = new ArrayList<>();
        for (Object o : new ObjectMapper().readValue(instruction(df, "ENTRYPOINT"), List.class)) {
            entrypoint.add(o.toString().replace("/opt/turnout/turnout.jar", JAR.toString()));
        }
        Matcher env = Pattern.compile("(?m)^ENV TURNOUT_JAVA_OPTS=\"([^\"]+)\"$").matcher(df);
        assertThat(env.find()).as("Dockerfile sets TURNOUT_JAVA_OPTS").isTrue();
        String opts = env.group(1);
        Matcher hc = Pattern.compile("CMD (.+)$").matcher(instruction(df, "HEALTHCHECK"));
        assertThat(hc.find()).isTrue();
        String check = hc.group(1);
        String stopSignal = instruction(df, "STOPSIGNAL").replaceFirst("^SIG", "");

        int port = freePort();
        int metricsPort = freePort();
        List<String> cmd = new ArrayList<>(entrypoint);
        cmd.addAll(List.of("--config", config(port, metricsPort).toString())); // docker run IMAGE --config ...
        Path log = dir.resolve("entrypoint.log");
        Process p = start(cmd, Map.of("TURNOUT_JAVA_OPTS", opts), log);
        try {
            awaitListening(p, port, log);
            assertThat(p.toHandle().info().command()).as("exec: java replaced the shell, so it gets the signals")
                    .hasValueSatisfying(c -> assertThat(c).endsWith("/java"));
            assertThat(p.toHandle().info().arguments().map(List::of).orElseThrow())
                    .as("TURNOUT_JAVA_OPTS split into words").contains(opts.split(" "));
            assertThat(healthcheck(check, metricsPort)).as("healthy when /ready is 200").isZero();
            Properties props = new Properties();
            props.setProperty("user", "ops");
            props.setProperty("preferQueryMode", "simple");
            try (Connection admin = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/pgbouncer", props)) {
                admin.createStatement().execute("SUSPEND");
                assertThat(healthcheck(check, metricsPort)).as("unhealthy when /ready is 503").isEqualTo(1);
                admin.createStatement().execute("RESUME");
                assertThat(healthcheck(check, metricsPort)).isZero();
            }
            int status = stop(p, stopSignal, log);
            assertThat(status).as("a clean stop, for Docker and for the unit's SuccessExitStatus=143").isIn(0, 143);
        } finally {
            Processes.destroyTree(p);
        }
    }

    @Test
    void theUnitsExecStartRunsWithItsEnvironment() throws Exception {
        Map<String, String> unit = new HashMap<>();
        for (String line : Files.readAllLines(DockerFilesTest.ROOT.resolve("systemd/turnout.service"))) {
            int eq = line.indexOf('=');
            if (!line.startsWith("#") && eq > 0) {
                unit.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        String env = unit.get("Environment");
        env = env.substring(1, env.length() - 1); // Environment="NAME=value with spaces"
        assertThat(env).startsWith("TURNOUT_JAVA_OPTS=");
        String opts = env.substring("TURNOUT_JAVA_OPTS=".length());
        int port = freePort();
        int metricsPort = freePort();
        List<String> cmd = new ArrayList<>();
        for (String word : unit.get("ExecStart").split(" ")) {
            switch (word) {
                case "/usr/bin/java" -> cmd.add(JAVA_BIN.resolve("java").toString());
                case "$TURNOUT_JAVA_OPTS" -> cmd.addAll(List.of(opts.split(" "))); // systemd's word splitting
                case "/opt/turnout/turnout.jar" -> cmd.add(JAR.toString());
                case "/etc/turnout/turnout.yaml" -> cmd.add(config(port, metricsPort).toString());
                default -> cmd.add(word);
            }
        }
        Path log = dir.resolve("unit.log");
        Process p = start(cmd, Map.of(), log);
        try {
            awaitListening(p, port, log);
            int status = stop(p, unit.get("KillSignal").replaceFirst("^SIG", ""), log);
            assertThat(String.valueOf(status)).as("SuccessExitStatus covers how the JVM ends after KillSignal")
                    .isIn("0", unit.get("SuccessExitStatus"));
        } finally {
            Processes.destroyTree(p);
        }
    }
}
