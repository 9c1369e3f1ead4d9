package io.turnout.proxy.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The lifecycle of one long-running program a fixture runs as the JVM's child (etcd, Prometheus, Patroni,
 * HAProxy, PgBouncer, the packaged Turnout jar): start it, wait until it is ready, signal, stop or kill it, and
 * show its log when something fails. PostgreSQL is the exception: pg_ctl starts it detached (see {@link PgCtl}).
 *
 * <p>Output (stdout and stderr) is appended to a log file, not a pipe nobody drains: these programs log for as
 * long as they run. Standard input is /dev/null. The pid file ({@code <dir>/<name>.pid}, tagged with the start
 * instant) lets a later JVM kill what this one left when it died without its shutdown hooks
 * ({@link OwnedDirs#reapStale}).
 */
public final class ServerProcess {
    private static final Duration KILL_WAIT = Duration.ofSeconds(30);

    private final String name;
    private final List<String> command;
    private final Path dir;
    private final List<String> dropEnvPrefixes = new ArrayList<>();
    private final Map<String, String> env = new LinkedHashMap<>();
    private Path log;
    private volatile Process process;

    /** {@code name} names the log ({@code <dir>/<name>.log}), the pid file and the failure messages. */
    ServerProcess(String name, List<String> command, Path dir) {
        this.name = name;
        this.command = List.copyOf(command);
        this.dir = dir;
        this.log = dir.resolve(name + ".log");
    }

    /** Logs to {@code file} instead of {@code <dir>/<name>.log}. */
    ServerProcess logTo(Path file) {
        this.log = file;
        return this;
    }

    /** Removes inherited variables starting with {@code prefix} (they would override the fixture's config). */
    ServerProcess withoutEnv(String... prefixes) {
        dropEnvPrefixes.addAll(List.of(prefixes));
        return this;
    }

    ServerProcess env(String key, String value) {
        env.put(key, value);
        return this;
    }

    /** Launches the program; it must not be running. Returns at once: see {@link #awaitReady}. */
    public synchronized void start() {
        if (isAlive()) {
            throw new IllegalStateException(name + " is already running");
        }
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().keySet().removeIf(k -> dropEnvPrefixes.stream().anyMatch(k::startsWith));
        pb.environment().putAll(env);
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + String.join(" ", command), e);
        }
        OwnedDirs.writePid(dir.resolve(name + ".pid"), process.toHandle());
    }

    /**
     * Waits until {@code ready} holds; fails with the log's tail if the program exits first or is not ready within
     * {@code timeout}. A failure whose log says a port was taken is a {@link FreePorts.PortTaken} (the program is
     * killed then), so a start on free ports can be retried with {@link FreePorts#retry}.
     */
    public void awaitReady(Duration timeout, BooleanSupplier ready) {
        try {
            Await.until(name + " to be ready", timeout, () -> {
                Process p = process;
                if (p == null || !p.isAlive()) {
                    throw new Await.Abort(name + " exited" + (p == null ? "" : " with code " + p.exitValue()));
                }
                return ready.getAsBoolean();
            }, () -> "--- " + log + " (tail) ---\n" + logTail(40));
        } catch (AssertionError e) {
            kill();
            if (FreePorts.saysPortTaken(logTail(40))) {
                throw new FreePorts.PortTaken(e.getMessage());
            }
            throw e;
        }
    }

    /** {@link #start()} then {@link #awaitReady}. */
    public void startAndAwait(Duration timeout, BooleanSupplier ready) {
        start();
        awaitReady(timeout, ready);
    }

    public boolean isAlive() {
        Process p = process;
        return p != null && p.isAlive();
    }

    /** The process the JVM started (runuser, env or sh when the program runs through one), or null. */
    public ProcessHandle handle() {
        Process p = process;
        return p == null ? null : p.toHandle();
    }

    public long pid() {
        return process.pid();
    }

    /** {@code kill -<sig> <pid>}, e.g. {@code signal("HUP")}. */
    public void signal(String sig) {
        signal(process.toHandle(), sig);
    }

    /** {@code kill -<sig>} of any process, e.g. the program under runuser. */
    static void signal(ProcessHandle h, String sig) {
        Processes.run(Duration.ofSeconds(30), List.of("kill", "-" + sig, Long.toString(h.pid()))).orThrow();
    }

    /** Waits until the program exits; returns its exit code, or fails with the log's tail after {@code timeout}. */
    public int awaitExit(Duration timeout) {
        Process p = process;
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError(name + " did not exit within " + timeout.toSeconds() + " s\n--- " + log
                        + " (tail) ---\n" + logTail(40));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
        return p.exitValue();
    }

    /** SIGKILL of the program and everything it started, as a crashed host; waits until they are dead. */
    public synchronized void kill() {
        Process p = process;
        if (p != null) {
            Processes.destroyTree(p.toHandle());
            try {
                p.waitFor(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS); // collects the exit status
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public Path log() {
        return log;
    }

    /** The last {@code lines} lines of the log, for failure messages. */
    public String logTail(int lines) {
        return OwnedDirs.tail(log, lines);
    }

    @Override
    public String toString() {
        Process p = process;
        return name + (p == null ? "" : "[pid " + p.pid() + (p.isAlive() ? "" : ", exited") + "]");
    }
}
