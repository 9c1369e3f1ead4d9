package io.turnout.proxy.testing;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs an external program to completion with a hard timeout, capturing its output. Used by {@link PgServer}
 * for initdb/pg_ctl/psql and by tests that drive psql, pgbench or pgbouncer as clients.
 *
 * <p>Every wait is bounded: a process still running at its deadline is destroyed together with all of its
 * descendants, and a {@link TimeoutException} carrying everything it printed so far is thrown, which fails
 * the calling test with the program's output in the report.
 */
public final class Processes {
    /** How long the output pumps may run on after the process exited (a grandchild may hold the pipe). */
    private static final Duration DRAIN = Duration.ofSeconds(5);
    /** How long a killed process tree may take to die (a busy CI box schedules it late). */
    private static final Duration KILL_WAIT = Duration.ofSeconds(30);

    private Processes() {}

    /** The outcome of a finished process. {@code stdout} and {@code stderr} are decoded as UTF-8. */
    public record Result(List<String> command, int exitCode, String stdout, String stderr, Duration elapsed) {
        public boolean ok() {
            return exitCode == 0;
        }

        /** Returns this result when the exit code is 0, otherwise throws an {@link AssertionError} with the output. */
        public Result orThrow() {
            if (exitCode != 0) {
                throw new AssertionError(describe("exited with code " + exitCode));
            }
            return this;
        }

        String describe(String what) {
            return String.join(" ", command) + " " + what + " after " + elapsed.toMillis() + " ms"
                    + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
        }
    }

    /** Thrown when a process outlives its timeout; it has been destroyed (with its descendants) by then. */
    public static final class TimeoutException extends AssertionError {
        private static final long serialVersionUID = 1L;
        private final transient Result partial;

        TimeoutException(Duration timeout, Result partial) {
            super(partial.describe("timed out (limit " + timeout.toMillis() + " ms) and was killed"));
            this.partial = partial;
        }

        /** What the process printed before it was killed; the exit code is -1. */
        public Result partial() {
            return partial;
        }
    }

    /** Runs {@code cmd} in the current directory with the inherited environment and no standard input. */
    public static Result run(Duration timeout, List<String> cmd) {
        return run(timeout, cmd, Map.of(), null, null);
    }

    /**
     * Runs {@code cmd} and waits at most {@code timeout} for it.
     *
     * @param env   changes to the inherited environment: a {@code null} value removes the variable
     * @param dir   working directory, or {@code null} for the JVM's
     * @param stdin text fed to standard input (then closed), or {@code null} for none ({@code /dev/null})
     * @return the result, whatever the exit code (see {@link Result#orThrow()})
     * @throws TimeoutException if the process did not finish in time
     */
    public static Result run(Duration timeout, List<String> cmd, Map<String, String> env, Path dir, String stdin) {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        env.forEach((k, v) -> {
            if (v == null) {
                pb.environment().remove(k);
            } else {
                pb.environment().put(k, v);
            }
        });
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        if (stdin == null) {
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        long t0 = System.nanoTime();
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + String.join(" ", cmd), e);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread outPump = pump(p.getInputStream(), out, cmd, "stdout");
        Thread errPump = pump(p.getErrorStream(), err, cmd, "stderr");
        Thread inPump = null;
        if (stdin != null) {
            byte[] bytes = stdin.getBytes(StandardCharsets.UTF_8);
            OutputStream os = p.getOutputStream();
            inPump = daemon(() -> {
                try (os) {
                    os.write(bytes);
                } catch (IOException ignored) {
                    // the process exited or closed its input without reading everything
                }
            }, cmd, "stdin");
        }
        boolean finished;
        try {
            finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            destroyTree(p);
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for " + String.join(" ", cmd), e);
        }
        if (!finished) {
            destroyTree(p);
        }
        join(outPump);
        join(errPump);
        if (inPump != null) {
            join(inPump);
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
        Result result = new Result(List.copyOf(cmd), finished ? p.exitValue() : -1, text(out), text(err), elapsed);
        if (!finished) {
            throw new TimeoutException(timeout, result);
        }
        return result;
    }

    /** Kills a process and everything it started, hardest first so nothing is re-parented and left behind. */
    public static void destroyTree(Process p) {
        destroyTree(p.toHandle());
    }

    /**
     * SIGKILLs a process and all its descendants (collected first, so none is re-parented and missed), then waits
     * until they are dead; {@code null} is ignored. A dead process that is not the JVM's child stays a zombie
     * until init reaps it, which init here does only every couple of seconds: zombies count as dead, as they
     * hold no port, file or memory. Best effort: an unkillable process must not hang the test run.
     */
    public static void destroyTree(ProcessHandle h) {
        if (h == null) {
            return;
        }
        List<ProcessHandle> all = new ArrayList<>(h.descendants().toList());
        all.add(h);
        all.forEach(ProcessHandle::destroyForcibly);
        long deadline = System.nanoTime() + KILL_WAIT.toNanos();
        for (ProcessHandle p : all) {
            while (p.isAlive() && !isZombie(p) && System.nanoTime() < deadline) {
                Await.sleep(Duration.ofMillis(10));
            }
        }
    }

    private static boolean isZombie(ProcessHandle h) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(h.pid()), "stat"));
            // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'
            return stat.charAt(stat.lastIndexOf(')') + 2) == 'Z';
        } catch (IOException | RuntimeException e) {
            return !h.isAlive(); // no /proc entry: gone
        }
    }

    private static Thread pump(InputStream in, ByteArrayOutputStream sink, List<String> cmd, String what) {
        return daemon(() -> {
            byte[] buf = new byte[8192];
            try (in) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    synchronized (sink) {
                        sink.write(buf, 0, n);
                    }
                }
            } catch (IOException ignored) {
                // stream closed under us: keep what was read
            }
        }, cmd, what);
    }

    private static Thread daemon(Runnable r, List<String> cmd, String what) {
        String name = cmd.isEmpty() ? "?" : Path.of(cmd.get(0)).getFileName().toString();
        Thread t = new Thread(r, "proc-" + name + "-" + what);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void join(Thread t) {
        try {
            t.join(DRAIN.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String text(ByteArrayOutputStream sink) {
        synchronized (sink) {
            return sink.toString(StandardCharsets.UTF_8);
        }
    }
}
