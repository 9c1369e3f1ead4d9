package io.turnout.bench.replicas;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PostgreSQL's pgbench as a child process: {@code -i} to fill a database, and {@code -S} runs whose report is
 * parsed. No PG* variable of this process reaches it but the password given.
 */
final class Pgbench {
    private static final Pattern TPS = Pattern.compile("(?m)^tps = ([0-9.]+) \\(without initial connection time\\)");
    private static final Pattern FAILED = Pattern.compile("(?m)^number of failed transactions: (\\d+)");
    private static final Pattern DONE = Pattern.compile("(?m)^number of transactions actually processed: (\\d+)");

    /** One run's figures; {@code failed} counts failed transactions, plus 1 when pgbench itself failed. */
    record Result(double tps, long transactions, long failed, String output) {
    }

    private final Path binary;

    Pgbench(Path pgBin) {
        this.binary = pgBin.resolve("pgbench");
    }

    /** {@code pgbench -i -s scale} into {@code db} (which must exist). */
    void initialize(String host, int port, String user, String password, String db, int scale) {
        Result r = run(List.of("-i", "-q", "-s", Integer.toString(scale), "-h", host, "-p", Integer.toString(port),
                "-U", user, db), password, 600);
        if (r.failed() > 0) {
            throw new IllegalStateException("pgbench -i failed:\n" + r.output());
        }
    }

    /** {@code pgbench -n -S -M simple -c clients -j 2 -T seconds} against {@code db}. */
    Result selectOnly(String host, int port, String user, String password, String db, int clients, int seconds) {
        List<String> args = List.of("-n", "-S", "-M", "simple", "-c", Integer.toString(clients), "-j", "2", "-T",
                Integer.toString(seconds), "-h", host, "-p", Integer.toString(port), "-U", user, db);
        Result r = run(args, password, seconds + 300L);
        Matcher tps = TPS.matcher(r.output());
        Matcher failed = FAILED.matcher(r.output());
        Matcher done = DONE.matcher(r.output());
        long failures = r.failed() + (failed.find() ? Long.parseLong(failed.group(1)) : 0);
        return new Result(tps.find() ? Double.parseDouble(tps.group(1)) : 0, done.find() ? Long.parseLong(done.group(1))
                : 0, failures, r.output());
    }

    private Result run(List<String> args, String password, long timeoutSeconds) {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary.toString());
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("PG"));
        env.put("PGPASSWORD", password);
        env.put("PGCONNECT_TIMEOUT", "60");
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            // pgbench's report is a few lines (and -i's progress a few hundred): read it all, then the exit status
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("pgbench did not end within " + timeoutSeconds + " s: " + cmd);
            }
            return new Result(0, 0, p.exitValue() == 0 ? 0 : 1, new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + cmd + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
