package io.turnout.proxy.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The packaged jar run as operators run it (bin/turnout's java -jar), for signal and restart tests. */
public final class TurnoutProcess implements AutoCloseable {
    private final ServerProcess process;

    private TurnoutProcess(ServerProcess process) {
        this.process = process;
    }

    /** Starts {@code target/turnout.jar --config config}; output goes to {@code config}'s name + .log. */
    public static TurnoutProcess start(Path config) {
        return start(config, List.of());
    }

    /**
     * As {@link #start(Path)}, with {@code launcher} run first and the java command as its arguments, as a
     * service manager or a shell would: say {@code env --default-signal=HUP}, as bin/turnout does.
     */
    public static TurnoutProcess start(Path config, List<String> launcher) {
        Path jar = Path.of("target", "turnout.jar").toAbsolutePath();
        if (!Files.exists(jar)) {
            throw new IllegalStateException(jar + " is missing: it is built in the package phase, before the ITs");
        }
        List<String> cmd = new ArrayList<>(launcher);
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar",
                jar.toString(), "--config", config.toString()));
        String name = config.getFileName().toString();
        TurnoutProcess t = new TurnoutProcess(new ServerProcess(name, cmd, config.getParent().toAbsolutePath())
                .logTo(config.resolveSibling(name + ".log")));
        t.process.start();
        return t;
    }

    /** Starts it again with the same configuration (after it exited). */
    public void restart() {
        process.start();
    }

    /** {@code kill -<name>} of the JVM (the launcher execs it, so its pid is the JVM's). */
    public void signal(String name) {
        process.signal(name);
    }

    /** Waits for the process to exit; returns its exit code, or fails with the log's tail after {@code timeout}. */
    public int awaitExit(Duration timeout) {
        return process.awaitExit(timeout);
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public Path logFile() {
        return process.log();
    }

    public String logTail() throws IOException {
        return process.logTail(40);
    }

    @Override
    public void close() {
        process.kill();
    }
}
