package io.turnout.proxy.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The packaged jar run as operators run it (bin/turnout's java -jar), for signal and restart tests. */
public final class TurnoutProcess implements AutoCloseable {
    private final Path config;
    private final Path log;
    private Process process;

    private TurnoutProcess(Path config, Path log) {
        this.config = config;
        this.log = log;
    }

    /** Starts {@code target/turnout.jar --config config}; output goes to {@code config}'s name + .log. */
    public static TurnoutProcess start(Path config) throws IOException {
        TurnoutProcess t = new TurnoutProcess(config, config.resolveSibling(config.getFileName() + ".log"));
        t.launch();
        return t;
    }

    private void launch() throws IOException {
        Path jar = Path.of("target", "turnout.jar").toAbsolutePath();
        if (!Files.exists(jar)) {
            throw new IllegalStateException(jar + " is missing: it is built in the package phase, before the ITs");
        }
        process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-jar", jar.toString(), "--config", config.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    /** Starts it again with the same configuration (after it exited). */
    public void restart() throws IOException {
        if (process.isAlive()) {
            throw new IllegalStateException("still running");
        }
        launch();
    }

    public void signal(String name) {
        Processes.run(Duration.ofSeconds(10), List.of("kill", "-" + name, String.valueOf(process.pid()))).orThrow();
    }

    /** Waits for the process to exit; returns its exit code, or throws when it outlives {@code timeout}. */
    public int awaitExit(Duration timeout) throws InterruptedException, IOException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("turnout did not exit within " + timeout + "; log:\n" + logTail());
        }
        return process.exitValue();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public String logTail() throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    @Override
    public void close() {
        Processes.destroyTree(process);
    }
}
