package io.turnout.bench.hostile;

import io.turnout.bench.idle.TurnoutJar;
import io.turnout.protocol.auth.ScramClient;
import io.turnout.proxy.testing.Canary;
import io.turnout.proxy.testing.HostileClients;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.RawClient;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * bench/hostile (bench/slowloris, bench/slowreader): hostile clients at scale against Turnout's jar run as a
 * process of its own, each case while a well-behaved client runs {@code select 1} every 5 ms and its slowest
 * round trip is compared with a run of the same length just before (its normal). Cases:
 * <ul>
 * <li>slowloris: N connections send half a startup packet and stay silent until client_login_timeout
 * closes them; Turnout's RSS with them, a fresh login's time among them;</li>
 * <li>slowreader: a client asks for a large result (1 GiB) and reads nothing; Turnout's RSS above idle;</li>
 * <li>badlogins: SCRAM logins with wrong proofs at a target rate; the rate reached and /metrics' count.</li>
 * </ul>
 * One machine-readable line per case on stdout ({@code slowloris: ...}, {@code slowreader: ...},
 * {@code badlogins: ...}); progress on stderr.
 */
public final class HostileBench {
    static final String USER = "bench";
    static final String PASSWORD = "bench_pw";
    static final String USAGE = """
            usage: bench/hostile [options]   (bench/slowloris = --cases slowloris, bench/slowreader = --cases slowreader)

              --cases LIST         slowloris,slowreader,badlogins (default all three)
              --clients N          slowloris connections (default 10000; the script raises ulimit -n to N+1000)
              --reader-mb N        the unread result's size in MiB (default 1024)
              --rate N             wrong-password logins per second aimed at (default 1000)
              --duration SECONDS   each measured phase and its normal before it (default 10)
              --login-timeout S    Turnout's client_login_timeout (default 15)
              --turnout-opts OPTS  JVM options for Turnout (default -XX:+UseZGC, as systemd/ and docker/ run it)
              --help               this text
            """;

    private HostileBench() {
    }

    public static void main(String[] args) throws Exception {
        List<String> cases = List.of("slowloris", "slowreader", "badlogins");
        int clients = 10_000;
        int readerMb = 1024;
        int rate = 1000;
        int duration = 10;
        int loginTimeout = 15;
        // The collector systemd/ and docker/ start Turnout with: with G1 instead, the young pause that copies
        // 10,000 half-open connections' state took 67-256 ms (slowloris over_normal_ms 105 median of 5, quiet).
        String opts = "-XX:+UseZGC";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--cases" -> cases = List.of(args[++i].split(","));
                case "--clients" -> clients = Integer.parseInt(args[++i]);
                case "--reader-mb" -> readerMb = Integer.parseInt(args[++i]);
                case "--rate" -> rate = Integer.parseInt(args[++i]);
                case "--duration" -> duration = Integer.parseInt(args[++i]);
                case "--login-timeout" -> loginTimeout = Integer.parseInt(args[++i]);
                case "--turnout-opts" -> opts = args[++i];
                case "-h", "--help" -> {
                    System.out.print(USAGE);
                    return;
                }
                default -> throw new IllegalArgumentException("hostile: unknown argument '" + args[i] + "' (see --help)");
            }
        }
        Path dir = Files.createTempDirectory("turnout-hostile");
        try (PgServer pg = PgServer.start()) {
            int metricsPort;
            try (ServerSocket free = new ServerSocket(0)) {
                metricsPort = free.getLocalPort();
            }
            String settings = "max_client_conn: 200\nclient_login_timeout: " + loginTimeout + "\nmetrics_port: "
                    + metricsPort + "\n";
            try (TurnoutJar turnout = TurnoutJar.start(pg, dir, USER, PASSWORD, settings, opts.trim())) {
                Bench b = new Bench(pg, turnout, duration, metricsPort);
                for (String c : cases) {
                    switch (c) {
                        case "slowloris" -> b.slowloris(clients, loginTimeout);
                        case "slowreader" -> b.slowReader(readerMb);
                        case "badlogins" -> b.badLogins(rate);
                        default -> throw new IllegalArgumentException("hostile: unknown case '" + c + "'");
                    }
                }
            }
        } finally {
            Processes.run(Duration.ofSeconds(60), List.of("rm", "-rf", dir.toString()));
        }
    }

    private record Bench(PgServer pg, TurnoutJar turnout, int duration, int metricsPort) {
        Connection connect() throws Exception {
            Properties p = new Properties();
            p.setProperty("user", USER);
            p.setProperty("password", PASSWORD);
            p.setProperty("connectTimeout", "30");
            return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + turnout.port() + "/" + PgServer.APP_DB, p);
        }

        /** The canary's slowest round trip over {@code duration} seconds with nothing else going on. */
        double normal(Canary canary) throws InterruptedException {
            canary.resetMax();
            Thread.sleep(duration * 1000L);
            return canary.maxMillis();
        }

        void slowloris(int n, int loginTimeout) throws Exception {
            Canary canary = new Canary(connect());
            double normal = normal(canary);
            long idleRss = turnout.rssKib();
            log(String.format(Locale.ROOT, "slowloris: normal max %.1f ms, RSS %d KiB; opening %d half startups", normal,
                    idleRss, n));
            canary.resetMax();
            long opened = System.nanoTime();
            List<Socket> silent = HostileClients.halfStartups(turnout.port(), n, RawClient.startup("user", USER,
                    "database", PgServer.APP_DB));
            log(String.format(Locale.ROOT, "opened in %.1f s", (System.nanoTime() - opened) / 1e9));
            double loginMax = 0;
            List<Long> logins = new ArrayList<>();
            long rss = 0;
            try {
                for (int i = 0; i < duration * 2; i++) { // a fresh login among them every 500 ms
                    long t0 = System.nanoTime();
                    try (Connection c = connect()) {
                        c.createStatement().execute("select 1");
                    }
                    loginMax = Math.max(loginMax, (System.nanoTime() - t0) / 1e6);
                    logins.add((System.nanoTime() - t0) / 1_000_000);
                    rss = Math.max(rss, turnout.rssKib());
                    Thread.sleep(500);
                }
                double flood = canary.maxMillis();
                log("fresh logins among them, ms each: " + logins);
                long deadline = opened + TimeUnit.SECONDS.toNanos(loginTimeout + 60L);
                int closed = HostileClients.closedByServer(silent, deadline);
                double closedAfter = (System.nanoTime() - opened) / 1e9;
                canary.stop();
                System.out.printf(Locale.ROOT, "slowloris: clients=%d normal_max_ms=%.1f max_ms=%.1f over_normal_ms=%.1f"
                        + " login_max_ms=%.1f rss_idle_mib=%.1f rss_mib=%.1f closed=%d closed_after_s=%.1f%n", n, normal,
                        flood, flood - normal, loginMax, idleRss / 1024.0, rss / 1024.0, closed, closedAfter);
            } finally {
                HostileClients.closeAll(silent);
            }
        }

        void slowReader(int mib) throws Exception {
            Canary canary = new Canary(connect());
            double normal = normal(canary);
            long idleRss = turnout.rssKib();
            long rows = mib * 1024L; // DataRows of 1,011 bytes
            try (Socket reader = new Socket()) {
                reader.setReceiveBufferSize(64 * 1024);
                reader.connect(new InetSocketAddress("127.0.0.1", turnout.port()));
                reader.setSoTimeout(60_000);
                String login = HostileClients.login(reader, USER, new ScramClient(PASSWORD), PgServer.APP_DB);
                if (!login.equals("ok")) {
                    throw new IllegalStateException("slow reader login failed: " + login);
                }
                canary.resetMax();
                HostileClients.askForUnreadResult(reader, rows, 1000);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (!pg.psql(PgServer.APP_DB, "select count(*) from pg_stat_activity where wait_event = 'ClientWrite'"
                        + " and query like 'select repeat%'").trim().equals("1")) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("the server never blocked writing to Turnout");
                    }
                    Thread.sleep(100);
                }
                long rss = 0;
                for (int i = 0; i < duration * 5; i++) {
                    rss = Math.max(rss, turnout.rssKib());
                    Thread.sleep(200);
                }
                double held = canary.maxMillis();
                long t0 = System.nanoTime();
                Future<Long> drained;
                ExecutorService one = Executors.newSingleThreadExecutor();
                try {
                    drained = one.submit(() -> HostileClients.drainResult(reader));
                    long drainRss = rss;
                    while (!drained.isDone()) {
                        drainRss = Math.max(drainRss, turnout.rssKib());
                        Thread.sleep(200);
                    }
                    long got = drained.get();
                    double drainS = (System.nanoTime() - t0) / 1e9;
                    canary.stop();
                    System.out.printf(Locale.ROOT, "slowreader: mib=%d normal_max_ms=%.1f max_ms=%.1f over_normal_ms=%.1f"
                            + " rss_idle_mib=%.1f rss_above_idle_mib=%.1f rss_above_idle_draining_mib=%.1f rows=%d/%d"
                            + " drain_s=%.1f%n", mib, normal, held, held - normal, idleRss / 1024.0,
                            (rss - idleRss) / 1024.0, (drainRss - idleRss) / 1024.0, got, rows, drainS);
                } finally {
                    one.shutdownNow();
                }
            }
        }

        void badLogins(int rate) throws Exception {
            Canary canary = new Canary(connect());
            double normal = normal(canary);
            double before = loginFailures();
            canary.resetMax();
            HostileClients.Storm done = HostileClients.wrongPasswordStorm(turnout.port(), USER, PgServer.APP_DB, 8, rate,
                    duration);
            double storm = canary.maxMillis();
            canary.stop();
            double counted = loginFailures() - before;
            System.out.printf(Locale.ROOT, "badlogins: target_rate=%d rate=%.0f refused=%d other=%d counted=%.0f"
                    + " normal_max_ms=%.1f max_ms=%.1f over_normal_ms=%.1f%n", rate, done.rate(), done.refused(), done.other(),
                    counted, normal, storm, storm - normal);
        }

        double loginFailures() throws Exception {
            return HostileClients.passwordFailures(metricsPort);
        }
    }

    static void log(String s) {
        System.err.printf("[hostile %tT] %s%n", java.time.LocalTime.now(), s);
    }
}
