package io.turnout.bench.idle;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * bench/idle: Turnout's memory per logged-in idle client and what idle clients cost the active ones. A real
 * PostgreSQL (the tests' PgServer) and Turnout's jar as its own process, so its RSS is its own; 50 pgbench
 * clients run -S before the idle clients log in, with them, and after they left, for each of --rounds rounds.
 * The figures: RSS and heap (after a full GC) per idle client in round 1, and the median over the rounds of TPS
 * with the idle clients / the mean of the runs without on either side. Progress on stderr; the report and the machine-readable last line on stdout:
 *
 * <pre>idle: clients=N rss_per_client_kib=R heap_per_client_kib=R tps_idle_ratio=R</pre>
 */
public final class IdleBench {
    static final String USER = "bench";
    static final String PASSWORD = "bench_pw";

    private IdleBench() {
    }

    public static void main(String[] args) throws Exception {
        Options o = Options.parse(args);
        if (o == null) {
            return;
        }
        Path dir = Files.createTempDirectory("turnout-idle");
        try (PgServer pg = PgServer.start()) {
            log("PostgreSQL on port " + pg.port() + "; pgbench -i -s 1");
            Map<String, String> pgEnv = PgServer.clientEnv();
            pgEnv.put("PGPASSWORD", "postgres");
            Processes.run(Duration.ofSeconds(300), List.of(pg.bin("pgbench"), "-i", "-s", "1", "-q", "-h", pg.host(),
                    "-p", String.valueOf(pg.port()), "-U", "postgres", PgServer.APP_DB), pgEnv, null, null).orThrow();
            try (TurnoutJar turnout = TurnoutJar.start(o, pg, dir)) {
                run(o, pg, turnout);
            }
        } finally {
            if (o.keep()) {
                log("kept " + dir);
            } else {
                Processes.run(Duration.ofSeconds(60), List.of("rm", "-rf", dir.toString()));
            }
        }
    }

    private static void run(Options o, PgServer pg, TurnoutJar turnout) throws Exception {
        if (o.warmup() > 0) {
            log("warm-up: pgbench -S, " + o.active() + " clients, " + o.warmup() + " s");
            pgbench(pg, turnout, o, o.warmup());
        }
        // Rounds of (idle clients log in, run with them, they leave, run without): each round's ratio is its run
        // with them over the mean of the runs without on either side, so host noise that drifts over minutes
        // falls on both sides; the figure is the median of the rounds. Memory is round 1's: later rounds start
        // from what the collector and allocator kept of the first burst, which would flatter the growth.
        double without = pgbench(pg, turnout, o, o.duration());
        TurnoutJar.Memory empty = turnout.memory();
        log(String.format(Locale.ROOT, "without idle clients: %.1f TPS, RSS %d KiB, heap %d KiB", without, empty.rssKib(),
                empty.heapKib()));
        TurnoutJar.Memory full = null;
        int established = Integer.MAX_VALUE;
        double[] tps = new double[2 * o.rounds() + 1];
        double[] ratios = new double[o.rounds()];
        tps[0] = without;
        for (int r = 0; r < o.rounds(); r++) {
            long t0 = System.nanoTime();
            double with;
            try (IdleClients idle = IdleClients.open(o.clients(), r * IdleClients.sources(o.clients()), turnout.port(), USER,
                    PASSWORD, PgServer.APP_DB, 4)) {
                log(String.format(Locale.ROOT, "round %d: %d idle clients logged in, %.1f s", r + 1, idle.size(),
                        (System.nanoTime() - t0) / 1e9));
                if (full == null) {
                    full = turnout.memory();
                }
                with = pgbench(pg, turnout, o, o.duration());
                established = Math.min(established, turnout.establishedClients());
                log(String.format(Locale.ROOT, "round %d: with idle clients: %.1f TPS", r + 1, with));
            }
            double after = pgbench(pg, turnout, o, o.duration());
            log(String.format(Locale.ROOT, "round %d: after the idle clients left: %.1f TPS", r + 1, after));
            ratios[r] = with / ((without + after) / 2);
            tps[2 * r + 1] = with;
            tps[2 * r + 2] = after;
            without = after;
        }

        double rssPer = (full.rssKib() - empty.rssKib()) / (double) o.clients();
        double heapPer = (full.heapKib() - empty.heapKib()) / (double) o.clients();
        System.out.println();
        System.out.printf(Locale.ROOT, "Turnout idle clients: %d cores, %d idle SCRAM clients, %d active pgbench -S -M simple"
                + " clients for %d s per run, %d rounds, JVM opts: %s%n", Runtime.getRuntime().availableProcessors(),
                o.clients(), o.active(), o.duration(), o.rounds(), o.turnoutOpts().isEmpty() ? "(none)" : o.turnoutOpts());
        System.out.printf(Locale.ROOT, "%-28s %12s %12s%n", "", "RSS KiB", "heap KiB");
        System.out.printf(Locale.ROOT, "%-28s %12d %12d%n", "without idle clients", empty.rssKib(), empty.heapKib());
        System.out.printf(Locale.ROOT, "%-28s %12d %12d%n", "with " + o.clients() + " idle", full.rssKib(), full.heapKib());
        System.out.printf(Locale.ROOT, "per idle client: RSS %.2f KiB, heap %.2f KiB (heap after a full GC), round 1;"
                + " client sockets open during the runs: at least %d%n", rssPer, heapPer, established);
        StringBuilder runs = new StringBuilder(String.format(Locale.ROOT, "TPS without %.1f", tps[0]));
        for (int r = 0; r < o.rounds(); r++) {
            runs.append(String.format(Locale.ROOT, ", with %.1f, without %.1f (ratio %.3f)", tps[2 * r + 1], tps[2 * r + 2],
                    ratios[r]));
        }
        System.out.println(runs);
        if (established < o.clients()) {
            System.out.println("idle: WARNING: some idle clients were disconnected during a run");
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "idle: clients=%d rss_per_client_kib=%.2f heap_per_client_kib=%.2f tps_idle_ratio=%.3f%n",
                o.clients(), rssPer, heapPer, median(ratios));
    }

    static double median(double[] values) {
        double[] v = values.clone();
        java.util.Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    /** One pgbench -S run of the active clients through Turnout: its TPS (logins excluded). */
    private static double pgbench(PgServer pg, TurnoutJar turnout, Options o, int seconds) {
        Map<String, String> env = PgServer.clientEnv();
        env.put("PGPASSWORD", PASSWORD);
        List<String> cmd = new ArrayList<>(List.of(pg.bin("pgbench"), "-n", "-S", "-M", "simple", "-j", "2",
                "-c", String.valueOf(o.active()), "-T", String.valueOf(seconds), "-h", "127.0.0.1",
                "-p", String.valueOf(turnout.port()), "-U", USER, PgServer.APP_DB));
        Processes.Result r = Processes.run(Duration.ofSeconds(seconds + 300L), cmd, env, null, null);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("tps = ([0-9.]+) \\(without initial connection time\\)")
                .matcher(r.stdout());
        if (r.exitCode() != 0 || !m.find() || !r.stdout().contains("number of failed transactions: 0 ")) {
            throw new IllegalStateException("pgbench failed (exit " + r.exitCode() + "):\n" + r.stdout() + r.stderr());
        }
        return Double.parseDouble(m.group(1));
    }

    static void log(String s) {
        System.err.printf("[idle %tT] %s%n", java.time.LocalTime.now(), s);
    }
}
