package io.turnout.bench.failover;

/**
 * bench/failover's command line. Bad input throws IllegalArgumentException with the message to print.
 *
 * @param beforeSeconds load before the kill; {@code afterSeconds} load after the new leader key is written
 * @param patroni real Patroni 3.0.2 clusters on a real etcd instead of the Consul test server
 * @param switchover a planned switchover (patronictl switchover) instead of a kill; needs {@code patroni}
 */
record Options(int beforeSeconds, int afterSeconds, int clients, int rounds, int poolSize, int rate, int workers,
               boolean keep, boolean patroni, boolean switchover) {

    static final String USAGE = """
            usage: bench/failover [options]

            Runs write+read transactions (pgjdbc, autocommit off) through an in-process Turnout in transaction
            mode on two shards, each a real PostgreSQL primary + streaming replica whose leader Turnout follows
            in Consul (the in-repo Consul test server). Then kills shard A's primary (pg_ctl stop -m immediate),
            deletes its leader key, promotes the replica and writes the keys as Patroni would, and measures how
            Turnout swaps. The last line of stdout is machine-readable:

              failover: swap_ms=N errors_outside_tx=N errors_in_flight=N tx_on_old_leader=N held_max_ms=N

            With --patroni the shards are real Patroni 3.0.2 clusters (two PostgreSQL nodes each, ttl 10 s,
            loop_wait 1 s) on a real etcd 3.4, which Turnout follows through its etcd: source; shard A's leader
            is killed with kill -9 (Patroni and PostgreSQL) and Patroni does the rest. The last line then ends
            in " patroni_detect_ms=N" (the kill to the new leader key, ~ttl). Patroni writes the key before the
            new leader leaves recovery, so the report splits swap_ms into promote_after_key_ms (Patroni's) and
            turnout_ms (from the later of key and promotion to the first commit: Turnout's own share).

              --duration S|B+A   seconds of load before the kill (B) and after the new leader key (A);
                                 one number is both (default 10+10)
              --clients N        client connections per shard (default 16)
              --pool-size N      Turnout default_pool_size (server connections per shard, default 8)
              --rate TPS         transactions per second per shard, spread over its clients (default 0: as
                                 fast as they go, like pgbench without -R); a rate that leaves the CPU some
                                 room separates Turnout's swap from a saturated machine's scheduling delays
              --workers N        Turnout event loops (default 0: as in production, one per core but one)
              --rounds N         failovers, back and forth: the crashed node is rebuilt as the replica between
                                 rounds (--patroni: its Patroni is restarted and pg_rewinds it, ~45 s a
                                 round); the last line has the median swap_ms (and patroni_detect_ms), the
                                 errors summed and the largest held_max_ms; the report lists every round
                                 (default 1)
              --switchover       with --patroni: a planned switchover (patronictl switchover, back and forth
                                 over the rounds) instead of a kill; the last line is
                                 switchover: errors=N held_max_ms=N patroni_ms=N turnout_ms=N (medians;
                                 errors summed) and the run exits 3 unless errors=0 and turnout_ms <= 50
              --patroni          real Patroni + etcd (see above); needs /usr/bin/patroni and /usr/bin/etcd
                                 (Debian's patroni and etcd-server); about 40 s for one round
              --keep             keep the scratch directory: turnout.yaml, turnout.log, PostgreSQL logs,
                                 per-round transaction CSVs and Turnout events
              --build            (bench/failover only) rebuild even when the jar looks current
              --help             this text

            Acceptance: swap_ms <= 100, errors_outside_tx = 0, tx_on_old_leader = 0 and no error on shard B;
            with --patroni: turnout_ms <= 100 (median over rounds) in place of swap_ms, the rest the same.
            Exit status: 0; 3 when a bar is missed (the last line is still printed); 1 when setup failed;
            2 for bad arguments.
            """;

    static Options parse(String[] args) {
        int before = 10;
        int after = 10;
        int clients = 16;
        int rounds = 1;
        int pool = 8;
        int rate = 0;
        int workers = 0;
        boolean keep = false;
        boolean patroni = false;
        boolean switchover = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--keep" -> keep = true;
                case "--patroni" -> patroni = true;
                case "--switchover" -> switchover = true;
                case "--duration" -> {
                    String v = value(args, i++);
                    int plus = v.indexOf('+');
                    before = positive(a, plus < 0 ? v : v.substring(0, plus));
                    after = positive(a, plus < 0 ? v : v.substring(plus + 1));
                }
                case "--clients" -> clients = positive(a, value(args, i++));
                case "--rounds" -> rounds = positive(a, value(args, i++));
                case "--pool-size" -> pool = positive(a, value(args, i++));
                case "--rate" -> rate = number(a, value(args, i++), 0);
                case "--workers" -> workers = number(a, value(args, i++), 0);
                default -> throw new IllegalArgumentException("unknown argument '" + a + "' (see --help)");
            }
        }
        if (switchover && !patroni) {
            throw new IllegalArgumentException("--switchover needs --patroni (Patroni writes the failover key)");
        }
        return new Options(before, after, clients, rounds, pool, rate, workers, keep, patroni, switchover);
    }

    private static String value(String[] args, int i) {
        if (i + 1 >= args.length || args[i + 1].isEmpty()) {
            throw new IllegalArgumentException(args[i] + " needs a value");
        }
        return args[i + 1];
    }

    private static int positive(String option, String v) {
        return number(option, v, 1);
    }

    private static int number(String option, String v, int min) {
        return io.turnout.bench.CommandLine.wholeNumber(option, v, min);
    }
}
