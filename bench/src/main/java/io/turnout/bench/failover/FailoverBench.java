package io.turnout.bench.failover;

import io.turnout.bench.failover.ClusterDriver.Failover;
import io.turnout.bench.failover.TxLoad.Tx;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * bench/failover: load through Turnout on two shards, an unplanned failover of the first, and what the
 * clients saw. Progress goes to stderr, the report and then the machine-readable last line to stdout.
 * See {@link Options#USAGE}.
 */
public final class FailoverBench {
    static final long SWAP_BAR_MS = 100;
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");

    private final Options opt;
    private final Path scratch;
    private final Timeline timeline;
    private final PrintStream out = System.out;

    private FailoverBench(Options opt, Path scratch, Timeline timeline) {
        this.opt = opt;
        this.scratch = scratch;
        this.timeline = timeline;
    }

    public static void main(String[] args) {
        Options opt;
        try {
            if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
                System.out.print(Options.USAGE);
                System.exit(0);
            }
            opt = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("failover: " + e.getMessage());
            System.exit(2);
            return;
        }
        int rc;
        Path scratch = null;
        try {
            scratch = Files.createTempDirectory("turnout-failover-");
            // before anything logs: Turnout's logback.xml would write to stdout, which carries the report
            Timeline timeline = Timeline.install(scratch.resolve("turnout.log"));
            rc = new FailoverBench(opt, scratch, timeline).run();
        } catch (Exception | Error e) {
            System.err.println("\nfailover: ERROR: " + e);
            e.printStackTrace(System.err);
            if (scratch != null) {
                System.err.println("failover: Turnout's log: " + scratch.resolve("turnout.log")
                        + (opt.keep() ? "" : " (deleted; run with --keep to read it)"));
            }
            rc = 1;
        }
        if (scratch != null) {
            if (opt.keep()) {
                System.err.println("failover: scratch directory kept: " + scratch);
            } else {
                deleteTree(scratch);
            }
        }
        System.out.flush();
        // Turnout's and pgjdbc's threads would keep the JVM up; PgServer's shutdown hook removes any server left
        System.exit(rc);
    }

    static void progress(String msg) {
        System.err.printf("[failover %s] %s%n", LocalTime.now().format(CLOCK), msg);
    }

    private int run() throws Exception {
        String load = Files.readString(Path.of("/proc/loadavg")).strip();
        progress("scratch " + scratch + "; load average " + load);
        List<Round> rounds = new ArrayList<>();
        String pgVersion;
        String driver;
        boolean keyBeforePromotion;
        // the one place a driver is chosen
        try (ClusterDriver cluster = opt.patroni() ? new PatroniEtcdDriver(2, FailoverBench::progress)
                : new ConsulShardsDriver(2, FailoverBench::progress)) {
            pgVersion = cluster.psqlPrimary(0, "postgres", "show server_version").strip();
            driver = cluster.name();
            keyBeforePromotion = cluster.leaderKeyBeforePromotion();
            for (int i = 0; i < cluster.shards(); i++) {
                cluster.psqlPrimary(i, cluster.dbname(i), TxLoad.SCHEMA);
                // the replica must have the tables before it is promoted, or reads fail for a reason not measured
                cluster.awaitReplicaCaughtUp(i);
            }
            try (BenchTurnout turnout = new BenchTurnout(cluster, scratch, opt.poolSize(), opt.workers())) {
                turnout.awaitReady(30_000);
                progress("turnout ready: " + cluster.shards() + " shards via " + cluster.name());
                if (opt.switchover()) {
                    List<SwitchoverRound> planned = new ArrayList<>();
                    for (int r = 1; r <= opt.rounds(); r++) {
                        List<TxLoad> loads = new ArrayList<>();
                        for (int i = 0; i < cluster.shards(); i++) {
                            String db = BenchTurnout.database(i);
                            loads.add(new TxLoad(db, () -> turnout.connect(db), opt.clients(), opt.rate()));
                        }
                        int number = r;
                        long loadStart = System.nanoTime();
                        planned.add(SwitchoverRound.run(r, cluster, loads, opt.beforeSeconds(), opt.afterSeconds(),
                                timeline, FailoverBench::progress, !opt.keep() ? null : (f, txs) -> {
                                    keepRound(number, f, txs, loadStart);
                                    keepRows(number, cluster, f);
                                }));
                    }
                    if (opt.keep()) {
                        cluster.saveLogs(scratch); // with FAILOVER_JAVA_OPTS=-Dfailover.pglog=MS: PostgreSQL's side
                    }
                    return SwitchoverRound.report(planned, System.out);
                }
                for (int r = 1; r <= opt.rounds(); r++) {
                    if (r > 1) {
                        progress(opt.patroni() ? "restarting the killed node's Patroni (it pg_rewinds it into "
                                + "shard_a's replica)" : "rebuilding the crashed node as shard_a's replica (pg_basebackup)");
                        long t0 = System.nanoTime();
                        cluster.heal(0);
                        cluster.awaitReplicaCaughtUp(0);
                        progress(String.format("shard_a has a streaming replica again after %.1f s",
                                (System.nanoTime() - t0) / 1e9));
                    }
                    Round round = round(r, cluster, turnout);
                    rounds.add(round);
                    round.report().forEach(FailoverBench::progress);
                }
            }
            if (opt.keep()) {
                cluster.saveLogs(scratch);
            }
        }
        return report(rounds, pgVersion, driver, load, keyBeforePromotion);
    }

    private Round round(int number, ClusterDriver cluster, BenchTurnout turnout) throws Exception {
        List<TxLoad> loads = new ArrayList<>();
        for (int i = 0; i < cluster.shards(); i++) {
            String db = BenchTurnout.database(i);
            loads.add(new TxLoad(db, () -> turnout.connect(db), opt.clients(), opt.rate()));
        }
        long loadStart = System.nanoTime();
        Failover f;
        long loadEnd;
        double loginMs = Double.NaN;
        List<List<Tx>> txs = new ArrayList<>();
        try {
            progress(String.format("round %d: %d clients per shard, %d s of load before the kill", number,
                    opt.clients(), opt.beforeSeconds()));
            Thread.sleep(opt.beforeSeconds() * 1000L);
            for (TxLoad l : loads) {
                if (l.commits() == 0) {
                    // not a setup failure: Turnout is what is measured, and a stalled pool is a result (reported)
                    progress("WARNING: " + l.name() + ": no transaction committed in the " + opt.beforeSeconds()
                            + " s before the kill; see turnout.log (--keep) for pool_slot_moved and errors");
                }
            }
            progress(String.format("round %d: killing shard_a's primary (port %d)", number, cluster.primaryPort(0)));
            f = cluster.failover(0);
            progress(String.format("round %d: new leader key %s (port %d) %.1f s after the kill, %d s of load after it",
                    number, opt.patroni() ? "seen" : "written", f.newPort(), Round.ms(f.keyWritten() - f.killStarted())
                    / 1e3, opt.afterSeconds()));
            loginMs = probeLogins(cluster, f);
            long left = f.keyWritten() + opt.afterSeconds() * 1_000_000_000L - System.nanoTime();
            if (left > 0) {
                Thread.sleep(left / 1_000_000);
            }
        } finally {
            loadEnd = System.nanoTime();
            for (TxLoad l : loads) {
                txs.add(l.stop());
            }
        }
        // rows the old leader committed after the key write that made it to the new primary (none can,
        // it is dead; the check is there so that a driver whose old leader survives is held to it too)
        String rows = cluster.psqlPrimary(0, cluster.dbname(0), "SELECT id FROM failover_log WHERE port = "
                + f.oldPort() + " AND ts >= '" + f.keyWrittenWall() + "'");
        Set<Long> oldRows = new TreeSet<>();
        rows.lines().map(String::strip).filter(s -> !s.isEmpty()).forEach(s -> oldRows.add(Long.parseLong(s)));
        // when the first transaction on the new leader ran its insert, by the server's clock (the same machine's
        // wall clock as keyWrittenWall): splits the time from server login to the commit the client saw
        String first = cluster.psqlPrimary(0, cluster.dbname(0), "SELECT extract(epoch FROM min(ts))::numeric(20,6) "
                + "FROM failover_log WHERE port = " + f.newPort() + " AND ts >= '" + f.keyWrittenWall() + "'").strip();
        double firstInsertMs = first.isEmpty() ? Double.NaN
                : (new java.math.BigDecimal(first).movePointRight(6).longValue() - micros(f.keyWrittenWall())) / 1e3;
        List<Tx> control = txs.subList(1, txs.size()).stream().flatMap(List::stream).toList();
        Round round = Round.measure(number, f, txs.get(0), control, oldRows, timeline, BenchTurnout.database(0),
                cluster.dbname(0), firstInsertMs, loginMs, loadStart, loadEnd, cluster.dcs(),
                cluster.leaderKeyBeforePromotion());
        if (opt.keep()) {
            keepRound(number, f, txs.get(0), loadStart);
            keepRows(number, cluster, f);
        }
        return round;
    }

    /**
     * A yardstick for the server_login step: the median of a few direct pgjdbc logins (TCP, SCRAM, backend
     * start) to the new primary under the same load, half a second after the swap.
     */
    private static double probeLogins(ClusterDriver cluster, Failover f) throws InterruptedException {
        long at = f.keyWritten() + 500_000_000L;
        long wait = at - System.nanoTime();
        if (wait > 0) {
            Thread.sleep(wait / 1_000_000);
        }
        double[] ms = new double[5];
        for (int i = 0; i < ms.length; i++) {
            long t0 = System.nanoTime();
            try (java.sql.Connection c = cluster.connectPrimary(0, cluster.dbname(0))) {
                ms[i] = Round.ms(System.nanoTime() - t0);
            } catch (java.sql.SQLException e) {
                return Double.NaN;
            }
        }
        Arrays.sort(ms);
        return ms[ms.length / 2];
    }

    private static long micros(java.time.Instant t) {
        return t.getEpochSecond() * 1_000_000 + t.getNano() / 1_000;
    }

    /**
     * Shard A's rows from 3 s before to 1 s after the new leader key, by the inserting server's clock in ms from
     * the key write: with the transactions' row ids, when each insert ran against when its client began and ended.
     */
    private void keepRows(int number, ClusterDriver cluster, Failover f) {
        String key = "'" + f.keyWrittenWall() + "'::timestamptz";
        String rows = cluster.psqlPrimary(0, cluster.dbname(0), "SELECT id, client, port, round((extract(epoch FROM ts - "
                + key + ") * 1000)::numeric, 3) FROM failover_log WHERE ts >= " + key + " - interval '3 s' AND ts < "
                + key + " + interval '1 s' ORDER BY ts");
        try {
            Files.writeString(scratch.resolve("round-" + number + "-rows.txt"), "# id|client|port|insert_ms after the "
                    + "new leader key write (server clock)\n" + rows);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Shard A's transactions (ms relative to the kill) and Turnout's events of the round, for --keep. */
    private void keepRound(int number, Failover f, List<Tx> txs, long loadStart) {
        try {
            writeRound(number, f, txs, loadStart);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private void writeRound(int number, Failover f, List<Tx> txs, long loadStart) throws IOException {
        StringBuilder csv = new StringBuilder("began_ms,ended_ms,client,port,id,error\n");
        for (Tx t : txs) {
            csv.append(String.format("%.3f,%.3f,%d,%d,%d,%s%n", Round.ms(t.began() - f.killStarted()),
                    Round.ms(t.ended() - f.killStarted()), t.client(), t.port(), t.id(),
                    t.ok() ? "" : '"' + t.error().replace("\"", "'").replace("\n", " ") + '"'));
        }
        Files.writeString(scratch.resolve("round-" + number + "-shard_a.csv"), csv);
        // the wall clock of the key write lines these up with PostgreSQL's log (-Dfailover.pglog)
        StringBuilder ev = new StringBuilder(String.format("# ms after the new leader key write (%s; the command or "
                + "kill at %.3f, the promotion at %.3f), Turnout event, fields%n", f.keyWrittenWall(),
                Round.ms(f.killStarted() - f.keyWritten()), Round.ms(f.promoted() - f.keyWritten())));
        for (Timeline.Event e : timeline.since(loadStart)) {
            ev.append(String.format("%10.3f %s %s%n", Round.ms(e.nanos() - f.keyWritten()), e.name(), e.fields()));
        }
        Files.writeString(scratch.resolve("round-" + number + "-events.txt"), ev);
    }

    /** Prints the report and the last line; returns the exit status. */
    private int report(List<Round> rounds, String pgVersion, String driver, String loadAvg,
                       boolean keyBeforePromotion) {
        out.println();
        String loadEnd;
        try {
            loadEnd = Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (IOException e) {
            loadEnd = "?";
        }
        out.printf("Turnout failover: %d cores (load average at start %s, at end %s), PostgreSQL %s, %s%n",
                Runtime.getRuntime().availableProcessors(), loadAvg, loadEnd, pgVersion, driver);
        out.printf("%d clients per shard (pgjdbc, insert+select+commit, %s), Turnout transaction mode, pool %d, "
                + "workers %d; %d s before the kill, %d s after the new leader key; %d round(s)%n", opt.clients(),
                opt.rate() == 0 ? "no think time" : opt.rate() + " tx/s per shard", opt.poolSize(), opt.workers(),
                opt.beforeSeconds(), opt.afterSeconds(), rounds.size());
        out.println();
        rounds.forEach(r -> r.report().forEach(out::println));
        List<Long> swaps = rounds.stream().map(Round::swapMs).toList();
        boolean missing = swaps.contains(-1L);
        long swapMedian = missing ? -1 : median(swaps);
        long swapMax = missing ? -1 : swaps.stream().max(Comparator.naturalOrder()).orElse(-1L);
        long outside = rounds.stream().mapToLong(Round::errorsOutsideTx).sum();
        long inFlight = rounds.stream().mapToLong(Round::errorsInFlight).sum();
        long onOld = rounds.stream().mapToLong(Round::txOnOldLeader).sum();
        long held = rounds.stream().mapToLong(Round::heldMaxMs).max().orElse(0);
        long controlErrors = rounds.stream().mapToLong(Round::controlErrors).sum();
        List<Long> turnouts = rounds.stream().map(Round::turnoutMs).toList();
        long turnoutMedian = turnouts.contains(-1L) ? -1 : median(turnouts);
        out.println();
        if (keyBeforePromotion) {
            // the leader key comes before the promotion: swap_ms is Patroni's promotion plus Turnout's share
            out.printf("patroni: promote_after_key_ms median %d (%s), turnout_ms median %d (%s); swap_ms = "
                    + "promote_after_key_ms + turnout_ms, of which Turnout's own is turnout_ms%n",
                    median(rounds.stream().map(Round::promoteAfterKeyMs).toList()),
                    rounds.stream().map(Round::promoteAfterKeyMs).toList(), turnoutMedian, turnouts);
        }
        if (rounds.size() > 1) {
            out.printf("swap_ms over %d rounds: median %d, max %d (%s); medians, ms after the key write:",
                    rounds.size(), swapMedian, swapMax, swaps);
            for (int s = 0; s < Round.STEP_NAMES.length; s++) {
                int step = s;
                double[] v = rounds.stream().mapToDouble(r -> r.steps()[step]).filter(d -> !Double.isNaN(d)).sorted()
                        .toArray();
                out.printf(" %s at %s", Round.STEP_NAMES[s], v.length == 0 ? "?" : String.format("%.1f", v[v.length / 2]));
            }
            out.println();
        }
        List<String> missed = new ArrayList<>();
        if (missing) {
            missed.add("no transaction committed on the new leader in some round");
        } else if (keyBeforePromotion) {
            // Patroni's promotion after its key write is not Turnout's to meet: the bar is on Turnout's share
            if (turnoutMedian > SWAP_BAR_MS) {
                missed.add("turnout_ms " + turnoutMedian + " > " + SWAP_BAR_MS);
            }
        } else if (swapMedian > SWAP_BAR_MS) {
            missed.add("swap_ms " + swapMedian + " > " + SWAP_BAR_MS);
        }
        if (outside > 0) {
            missed.add("errors_outside_tx " + outside + " > 0");
        }
        if (onOld > 0) {
            missed.add("tx_on_old_leader " + onOld + " > 0");
        }
        for (Round r : rounds) {
            if (r.tpsBefore() == 0 || r.controlTpsBefore() == 0) {
                missed.add("round " + r.number() + ": a shard committed nothing before the kill");
            }
        }
        if (controlErrors > 0) {
            missed.add("shard B had " + controlErrors + " errors");
        }
        long turnoutMax = turnouts.stream().max(Comparator.naturalOrder()).orElse(-1L);
        if (keyBeforePromotion) {
            if (turnoutMax > SWAP_BAR_MS && turnoutMedian <= SWAP_BAR_MS) {
                out.println("note: in some rounds Turnout's share was over " + SWAP_BAR_MS + " ms (max " + turnoutMax + ")");
            }
        } else if (swapMax > SWAP_BAR_MS && swapMedian <= SWAP_BAR_MS) {
            out.println("note: some rounds swapped slower than " + SWAP_BAR_MS + " ms (max " + swapMax + ")");
        }
        out.println(missed.isEmpty() ? "acceptance: met" : "acceptance: MISSED: " + String.join("; ", missed));
        Map<String, Long> line = new LinkedHashMap<>();
        line.put("swap_ms", swapMedian);
        line.put("errors_outside_tx", outside);
        line.put("errors_in_flight", inFlight);
        line.put("tx_on_old_leader", onOld);
        line.put("held_max_ms", held);
        // driver figures (a real-Patroni driver's patroni_detect_ms): the median over the rounds
        Set<String> extras = new TreeSet<>();
        rounds.forEach(r -> extras.addAll(r.failover().extra().keySet()));
        for (String k : extras) {
            line.put(k, median(rounds.stream().map(r -> r.failover().extra().getOrDefault(k, -1L)).toList()));
        }
        StringBuilder last = new StringBuilder("failover:");
        line.forEach((k, v) -> last.append(' ').append(k).append('=').append(v));
        out.println();
        out.println(last);
        return missed.isEmpty() ? 0 : 3;
    }

    private static long median(List<Long> values) {
        List<Long> v = values.stream().sorted().toList();
        return v.isEmpty() ? -1 : v.get(v.size() / 2);
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("failover: could not delete " + dir + ": " + e);
        }
    }
}
