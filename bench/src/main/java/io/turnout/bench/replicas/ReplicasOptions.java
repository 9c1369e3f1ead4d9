package io.turnout.bench.replicas;

import io.turnout.bench.CommandLine;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * bench/replicas' command line. Bad input throws IllegalArgumentException with the message to print.
 *
 * @param duration pgbench -T of each measured run, seconds
 * @param warmup an untimed pgbench of this many seconds per target before the rounds (0: none)
 */
record ReplicasOptions(int duration, int rounds, int clients, int poolSize, int scale, int warmup, int workers) {

    static final String USAGE = """
            usage: bench/replicas [options]

            Issue 17's replicas@200: starts a real etcd 3.4 and a real Patroni 3.0.2 shard of a leader and two
            replicas (PostgreSQL 15, the integration tests' PatroniCluster), fills database bench with pgbench -i
            on the leader, and races through an in-process Turnout (transaction mode, etcd source)

              bench_ro  { patroni_scope, target_session_attrs: standby }   the two replicas
              bench_rw  { patroni_scope }                                  the leader alone

            with pgbench -n -S -M simple -c CLIENTS -j 2 -T DURATION, alternating which goes first each round.
            Each member counts what it served itself (pg_stat_database.xact_commit of bench, read before and
            after each run once Turnout closed its idle servers, so the backends flushed their statistics);
            Turnout's own turnout_replica_transactions_total is printed beside it. The spread between the
            replicas is (max - min) / mean of their counts. Per run a line with TPS per member; the last line:

              replicas: tps_replicas=X tps_leader=X spread=R

            (medians over the rounds). Exit status: 0; 3 when spread > 0.10 or a transaction failed (the last
            line is still printed); 1 when setup failed; 2 for bad arguments.

              --duration S     pgbench -T of each measured run (default 15)
              --rounds N       rounds of both targets; the last line has the medians (default 1)
              --clients N      pgbench clients (default 200)
              --pool-size N    Turnout default_pool_size: servers per member (default 20)
              --scale N        pgbench -i scale (default 10)
              --warmup S       untimed pgbench per target before the rounds (default 5; 0: none)
              --workers N      Turnout event loops (default 0: as in production, one per core but one)
              --build          (bench/replicas only) rebuild even when the jar looks current
              --help           this text
            """;

    /** The options {@code args} give, or null when they ask for --help. */
    static ReplicasOptions parse(String[] args) {
        if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
            return null;
        }
        // every option takes a whole number: its default, then the smallest value it takes
        Map<String, int[]> known = new LinkedHashMap<>();
        known.put("--duration", new int[] {15, 1});
        known.put("--rounds", new int[] {1, 1});
        known.put("--clients", new int[] {200, 1});
        known.put("--pool-size", new int[] {20, 1});
        known.put("--scale", new int[] {10, 1});
        known.put("--warmup", new int[] {5, 0});
        known.put("--workers", new int[] {0, 0});
        for (int i = 0; i < args.length; i += 2) {
            int[] option = known.get(args[i]);
            if (option == null) {
                throw new IllegalArgumentException("unknown argument '" + args[i] + "' (see --help)");
            }
            if (i + 1 >= args.length || args[i + 1].isEmpty()) {
                throw new IllegalArgumentException(args[i] + " needs a value (see --help)");
            }
            option[0] = CommandLine.wholeNumber(args[i], args[i + 1], option[1]);
        }
        return new ReplicasOptions(known.get("--duration")[0], known.get("--rounds")[0], known.get("--clients")[0],
                known.get("--pool-size")[0], known.get("--scale")[0], known.get("--warmup")[0],
                known.get("--workers")[0]);
    }
}
