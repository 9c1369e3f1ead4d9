package io.turnout.bench.replicas;

import io.turnout.proxy.pool.ReadRoutes;
import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.EtcdServer;
import io.turnout.proxy.testing.PatroniCluster;
import io.turnout.proxy.testing.PatroniNode;
import io.turnout.proxy.testing.TurnoutFixture;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * bench/replicas (issue 17's {@code replicas@200}): {@code pgbench -S} through Turnout over a real Patroni 3.0.2
 * shard's two replicas (a {@code target_session_attrs: standby} database) against the same over its leader alone
 * (a leader-only database), the transactions each member served counted by the member itself, and the spread
 * between the replicas, {@code (max - min) / mean}. Progress goes to stderr, the report and then the
 * machine-readable last line to stdout. See {@link ReplicasOptions#USAGE}.
 */
public final class ReplicasBench {
    static final double SPREAD_BAR = 0.10;
    private static final String DB = "bench";
    private static final String RO = "bench_ro";
    private static final String RW = "bench_rw";
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");

    /** One pgbench run on one target: what pgbench saw, what each member and Turnout counted. */
    record Run(String target, Pgbench.Result result, Map<String, Long> served, Map<String, Long> routed) {
    }

    private final ReplicasOptions opt;
    private final PrintStream out = System.out;
    private final Pgbench pgbench = new Pgbench(Path.of(System.getenv().getOrDefault("PG_BIN",
            "/usr/lib/postgresql/15/bin")));

    private ReplicasBench(ReplicasOptions opt) {
        this.opt = opt;
    }

    public static void main(String[] args) {
        System.exit(exitStatus(args));
    }

    /** Runs the benchmark as {@code args} say; the process's exit status. */
    private static int exitStatus(String[] args) {
        ReplicasOptions opt;
        try {
            opt = ReplicasOptions.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("replicas: " + e.getMessage());
            return 2;
        }
        if (opt == null) {
            System.out.print(ReplicasOptions.USAGE);
            return 0;
        }
        Path log = null;
        try {
            log = Files.createTempFile("turnout-replicas-", ".log");
            // before the first logger exists: stdout carries the report, the log goes to this file
            System.setProperty("replicas.log", log.toString());
            System.setProperty("logback.configurationFile", "replicas-logback.xml");
            int rc = new ReplicasBench(opt).run();
            if (rc == 0) {
                Files.delete(log);
            } else {
                progress("Turnout's and the fixtures' log: " + log);
            }
            return rc;
        } catch (Exception | Error e) {
            System.err.println("\nreplicas: ERROR: " + e + (log == null ? "" : "\nreplicas: the log: " + log));
            e.printStackTrace(System.err);
            return 1;
        } finally {
            // Turnout's and pgjdbc's threads would keep the JVM up: main exits it; the fixtures' hooks stop the rest
            System.out.flush();
        }
    }

    static void progress(String msg) {
        System.err.printf("[replicas %s] %s%n", LocalTime.now().format(CLOCK), msg);
    }

    private int run() throws Exception {
        progress("starting etcd and a Patroni shard of a leader and 2 replicas; load average "
                + Files.readString(Path.of("/proc/loadavg")).strip());
        try (EtcdServer etcd = EtcdServer.start(); PatroniCluster shard = PatroniCluster.start(etcd, "bench-r", 3)) {
            PatroniNode leader = shard.leader();
            List<PatroniNode> replicas = shard.replicas();
            List<PatroniNode> all = Stream.concat(Stream.of(leader), replicas.stream()).toList();
            prepare(shard, leader);
            try (TurnoutFixture turnout = startTurnout(etcd, shard);
                    AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
                awaitReplicasRouted(turnout, replicas.size());
                MemberCounts.turnout(turnout.server().httpPort(), RO); // a first scrape registers the members
                if (opt.warmup() > 0) {
                    progress("warm-up: " + opt.warmup() + " s per target");
                    for (String db : List.of(RO, RW)) {
                        pgbench.selectOnly("127.0.0.1", turnout.port(), TurnoutFixture.USER, TurnoutFixture.PASSWORD,
                                db, opt.clients(), opt.warmup());
                    }
                }
                out.printf("replicas: Patroni 3.0.2 + etcd shard %s (leader %s; replicas %s), pgbench -n -S -M simple"
                        + " -c %d -j 2 -T %d (scale %d) through Turnout (pool_size %d per member), %d round(s)%n",
                        shard.scope(), leader.name(), names(replicas), opt.clients(), opt.duration(), opt.scale(),
                        opt.poolSize(), opt.rounds());
                List<Run> viaReplicas = new ArrayList<>();
                List<Run> viaLeader = new ArrayList<>();
                for (int r = 1; r <= opt.rounds(); r++) {
                    // alternate which target goes first, so a drift of the machine's noise hits both alike
                    for (String db : r % 2 == 1 ? List.of(RO, RW) : List.of(RW, RO)) {
                        Run run = measure(turnout, admin, all, db);
                        (db.equals(RO) ? viaReplicas : viaLeader).add(run);
                        out.println(describe(r, run, leader, replicas));
                    }
                }
                return report(viaReplicas, viaLeader, replicas);
            }
        }
    }

    /** Database {@value #DB} on the leader, filled by pgbench -i, and replayed by both replicas. */
    private void prepare(PatroniCluster shard, PatroniNode leader) throws SQLException, InterruptedException {
        try (Connection c = leader.connect("postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + DB);
        }
        progress("pgbench -i -s " + opt.scale() + " on " + leader.name());
        pgbench.initialize(leader.host(), leader.pgPort(), PatroniCluster.SUPERUSER, PatroniCluster.SUPERUSER_PASSWORD,
                DB, opt.scale());
        String lsn;
        try (Connection c = leader.connect("postgres"); Statement st = c.createStatement()) {
            st.execute("CHECKPOINT"); // not in the middle of a measured run
            lsn = MemberCounts.text(st, "select pg_current_wal_lsn()");
        }
        shard.awaitStreaming(java.time.Duration.ofSeconds(120));
        long deadline = System.nanoTime() + 300_000_000_000L;
        for (PatroniNode n : shard.replicas()) {
            // a replica routed before it replayed the tables would fail reads for a reason not measured
            while (true) {
                try (Connection c = n.connect("postgres"); Statement st = c.createStatement()) {
                    if (MemberCounts.text(st, "select pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn").equals("t")) {
                        break;
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(n.name() + " did not replay " + leader.name() + "'s WAL up to " + lsn);
                }
                Thread.sleep(100);
            }
        }
        progress("both replicas replayed pgbench -i (up to " + lsn + ")");
    }

    private TurnoutFixture startTurnout(EtcdServer etcd, PatroniCluster shard) {
        String backend = "patroni_scope: " + shard.scope() + ", dbname: " + DB + ", user: " + PatroniCluster.SUPERUSER
                + ", password: " + PatroniCluster.SUPERUSER_PASSWORD;
        return TurnoutFixture.builder()
                .set("etcd", "{ hosts: [\"" + etcd.hostPort() + "\"], namespace: " + shard.namespace() + " }")
                .set("workers", opt.workers()) // 0: the production default (a loop per core but one)
                .set("default_pool_size", opt.poolSize())
                .set("max_client_conn", opt.clients() * 2 + 100)
                .set("admin_users", "admin")
                .set("metrics_port", 0)
                .user("admin", "admin_pw")
                .rawDatabase(RO, backend + ", target_session_attrs: standby")
                .rawDatabase(RW, backend)
                .start();
    }

    /** Waits until the standby database routes to every replica: each has replayed pgbench -i by then. */
    private static void awaitReplicasRouted(TurnoutFixture turnout, int replicas) throws InterruptedException {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (true) {
            ReadRoutes.Route r = turnout.server().pools().database(RO).reads().route();
            if (r != null && r.standbys().size() == replicas) {
                progress("Turnout routes " + RO + " to " + r.standbys().stream().map(ReadRoutes.Target::name).toList());
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(RO + " never routed to " + replicas + " replicas: " + r + " "
                        + turnout.server().pools().database(RO).reads().members());
            }
            Thread.sleep(50);
        }
    }

    /**
     * One pgbench run on {@code db}, counted on each member between two settled reads of its statistics; RECONNECT
     * closes Turnout's idle servers before each read, so their backends exit and flush what they counted.
     */
    private Run measure(TurnoutFixture turnout, AdminClient admin, List<PatroniNode> all, String db)
            throws SQLException, IOException, InterruptedException {
        admin.execute("RECONNECT");
        Map<String, Long> before = MemberCounts.settled(all, DB);
        Map<String, Long> routedBefore = MemberCounts.turnout(turnout.server().httpPort(), RO);
        progress("pgbench -S -c " + opt.clients() + " -T " + opt.duration() + " on " + db);
        Pgbench.Result res = pgbench.selectOnly("127.0.0.1", turnout.port(), TurnoutFixture.USER,
                TurnoutFixture.PASSWORD, db, opt.clients(), opt.duration());
        if (res.failed() > 0) {
            progress("pgbench on " + db + " reported failures:\n" + res.output());
        }
        Map<String, Long> routed = MemberCounts.delta(routedBefore, MemberCounts.turnout(turnout.server().httpPort(),
                RO));
        admin.execute("RECONNECT");
        Map<String, Long> served = MemberCounts.delta(before, MemberCounts.settled(all, DB));
        return new Run(db.equals(RO) ? "replicas" : "leader", res, served, routed);
    }

    /**
     * A run's line: pgbench's TPS, then each member's share of the transactions it counted itself, as TPS (its
     * share of pgbench's, which leaves the clients' logins out) and as a count beside pgbench's own.
     */
    private static String describe(int round, Run run, PatroniNode leader, List<PatroniNode> replicas) {
        Pgbench.Result res = run.result();
        StringBuilder sb = new StringBuilder(String.format("round %d %-9s tps=%.1f failed=%d |", round, run.target()
                + ":", res.tps(), res.failed()));
        long total = run.served().values().stream().mapToLong(Long::longValue).sum();
        for (PatroniNode n : Stream.concat(Stream.of(leader), replicas.stream()).toList()) {
            double share = total == 0 ? 0 : (double) run.served().getOrDefault(n.name(), 0L) / total;
            sb.append(String.format(" %s%s %.1f tps (%.1f%%)", n.name(), n == leader ? " (leader)" : "",
                    share * res.tps(), 100 * share));
        }
        sb.append(String.format(" | counted by the members %d tx, by pgbench %d", total, res.transactions()));
        if (run.target().equals("replicas")) {
            sb.append(String.format(" | spread=%.3f | turnout_replica_transactions_total %s", spread(run, replicas),
                    run.routed()));
        }
        return sb.toString();
    }

    private static double spread(Run run, List<PatroniNode> replicas) {
        return MemberCounts.spread(run.served(), names(replicas));
    }

    private int report(List<Run> viaReplicas, List<Run> viaLeader, List<PatroniNode> replicas) {
        double tpsReplicas = median(viaReplicas.stream().map(r -> r.result().tps()).toList());
        double tpsLeader = median(viaLeader.stream().map(r -> r.result().tps()).toList());
        double spread = median(viaReplicas.stream().map(r -> spread(r, replicas)).toList());
        long failed = Stream.concat(viaReplicas.stream(), viaLeader.stream()).mapToLong(r -> r.result().failed()).sum();
        boolean ok = spread <= SPREAD_BAR && failed == 0;
        if (!ok) {
            out.printf("replicas: bar missed: spread %.3f (bar %.2f), failed transactions %d (bar 0)%n", spread,
                    SPREAD_BAR, failed);
        }
        out.printf("replicas: tps_replicas=%.1f tps_leader=%.1f spread=%.3f%n", tpsReplicas, tpsLeader, spread);
        return ok ? 0 : 3;
    }

    static double median(List<Double> values) {
        List<Double> v = values.stream().sorted(Comparator.naturalOrder()).toList();
        int n = v.size();
        return n == 0 ? Double.NaN : n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
    }

    private static List<String> names(List<PatroniNode> nodes) {
        return nodes.stream().map(PatroniNode::name).toList();
    }
}
