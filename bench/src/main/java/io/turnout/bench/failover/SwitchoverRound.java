package io.turnout.bench.failover;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One planned switchover under load (bench/failover --patroni --switchover): errors on every shard (a planned
 * switchover should cost none), the longest transaction on shard A (held while Turnout drained the old
 * leader), Patroni's time from the command to the new leader key, and Turnout's own part: from the later of
 * the new key and the promotion to the first commit on the new leader.
 */
record SwitchoverRound(int number, long errors, long heldMaxMs, long patroniMs, long turnoutMs) {

    /** Runs one round; {@code keep}, when not null, gets the switchover and shard A's transactions (--keep). */
    static SwitchoverRound run(int number, ClusterDriver cluster, List<TxLoad> loads, int beforeSeconds,
            int afterSeconds, Timeline timeline, Consumer<String> progress,
            java.util.function.BiConsumer<ClusterDriver.Failover, List<TxLoad.Tx>> keep) throws Exception {
        List<List<TxLoad.Tx>> txs = new ArrayList<>();
        ClusterDriver.Failover f;
        try {
            Thread.sleep(beforeSeconds * 1000L);
            progress.accept(String.format("round %d: patronictl switchover of shard_a (leader on port %d)", number,
                    cluster.primaryPort(0)));
            f = cluster.switchover(0);
            long left = f.killDone() + afterSeconds * 1_000_000_000L - System.nanoTime();
            if (left > 0) {
                Thread.sleep(left / 1_000_000);
            }
        } finally {
            for (TxLoad l : loads) {
                txs.add(l.stop());
            }
        }
        long errors = txs.stream().flatMap(List::stream).filter(t -> t.error() != null).count();
        long heldMax = txs.get(0).stream().filter(t -> t.error() == null && t.began() >= f.killStarted())
                .mapToLong(t -> t.ended() - t.began()).max().orElse(0);
        long from = Math.max(f.keyWritten(), f.promoted());
        long first = txs.get(0).stream().filter(t -> t.error() == null && t.port() == f.newPort() && t.ended() >= from)
                .mapToLong(TxLoad.Tx::ended).min().orElse(-1);
        SwitchoverRound r = new SwitchoverRound(number, errors, heldMax / 1_000_000,
                Math.round(Round.ms(f.keyWritten() - f.killStarted())), first < 0 ? -1 : (first - from) / 1_000_000);
        progress.accept(String.format("round %d: %s; %s", number, r.line(), f.note()));
        if (first >= 0) {
            progress.accept(String.format("round %d: turnout's share: %s", number, steps(timeline, cluster.dcs(),
                    cluster.dbname(0), f, from, first, firstInsert(cluster, f, from), txMs(txs.get(0), f.killStarted()))));
        }
        txs.stream().flatMap(List::stream).filter(t -> t.error() != null).limit(5)
                .forEach(t -> progress.accept("  error: " + t.error()));
        if (keep != null) {
            keep.accept(f, txs.get(0));
        }
        return r;
    }

    /**
     * Where Turnout's share went, in ms from its start (the later of the new key and the promotion; negative:
     * before it): the new key seen, the first login to the new leader (Turnout logs in to the candidate while the
     * old leader drains: seconds before), the promotion seen by the probe, the first insert there (server clock),
     * the first commit; with the logins, probe polls and GC pauses in between, and the load's own transaction
     * time as the yardstick. A slow round explains itself.
     */
    private static String steps(Timeline timeline, String dcs, String dbname, ClusterDriver.Failover f, long from,
            long first, String firstInsert, long txMs) {
        long since = Math.min(f.leaderGone(), f.keyWritten());
        Timeline.Event seen = timeline.first(dcs + "_leader_changed", since, Map.of("endpoint", "127.0.0.1:" + f.newPort()));
        // from the command on: Turnout may log in to the candidate while the old leader drains
        Timeline.Event login = timeline.first("server_login_ok", f.killStarted(), Map.of("db", dbname));
        Timeline.Event promoted = timeline.first("leader_promoted", since, Map.of());
        long logins = timeline.count("server_login_ok", f.killStarted(), first, e -> dbname.equals(e.get("db")));
        long probes = timeline.count("leader_not_primary_yet", f.killStarted(), first, e -> true);
        long gcMs = timeline.sumMs("gc_pause", since, first);
        return "key_seen=" + at(seen, from) + " first_login=" + at(login, from) + " promotion_seen=" + at(promoted, from)
                + " first_insert=" + firstInsert + " first_commit=" + Math.round(Round.ms(first - from)) + " logins="
                + logins + " not_primary_yet=" + probes + " gc_ms=" + gcMs + " (ms after max(key, promotion)); tx_ms="
                + txMs + " (shard_a's median transaction in the 2 s before the command: the floor of first_commit)";
    }

    /**
     * The median duration of shard A's transactions that committed in the 2 s before the switchover command:
     * the first commit after the promotion needs one whole transaction (insert, select, commit: three round
     * trips) once the new leader is out of recovery, so under load this is most of Turnout's share.
     */
    private static long txMs(List<TxLoad.Tx> txs, long before) {
        long[] d = txs.stream().filter(t -> t.ok() && t.ended() < before && t.ended() >= before - 2_000_000_000L)
                .mapToLong(t -> t.ended() - t.began()).sorted().toArray();
        return d.length == 0 ? -1 : Math.round(Round.ms(d[d.length / 2]));
    }

    /**
     * When the new leader ran its first insert of the round, by its own clock (this machine's wall clock), in ms
     * from {@code from}: splits the time from the promotion seen to the commit between Turnout and PostgreSQL.
     */
    private static String firstInsert(ClusterDriver cluster, ClusterDriver.Failover f, long from) {
        String v = cluster.psqlPrimary(0, cluster.dbname(0), "SELECT extract(epoch FROM min(ts))::numeric(20,6) "
                + "FROM failover_log WHERE port = " + f.newPort() + " AND ts >= '" + f.keyWrittenWall() + "'").strip();
        if (v.isEmpty()) {
            return "-";
        }
        long micros = new java.math.BigDecimal(v).movePointRight(6).longValue();
        long keyMicros = f.keyWrittenWall().getEpochSecond() * 1_000_000 + f.keyWrittenWall().getNano() / 1_000;
        return Long.toString(Math.round((micros - keyMicros) / 1e3 - Round.ms(from - f.keyWritten())));
    }

    private static String at(Timeline.Event e, long from) {
        return e == null ? "-" : Long.toString(Math.round(Round.ms(e.nanos() - from)));
    }

    String line() {
        return "switchover: errors=" + errors + " held_max_ms=" + heldMaxMs + " patroni_ms=" + patroniMs
                + " turnout_ms=" + turnoutMs;
    }

    /** The last line over every round (errors summed, the rest medians); the exit status for the bar. */
    static int report(List<SwitchoverRound> rounds, java.io.PrintStream out) {
        long errors = rounds.stream().mapToLong(SwitchoverRound::errors).sum();
        SwitchoverRound m = new SwitchoverRound(0, errors, median(rounds, SwitchoverRound::heldMaxMs),
                median(rounds, SwitchoverRound::patroniMs), median(rounds, SwitchoverRound::turnoutMs));
        rounds.forEach(r -> out.println("round " + r.number() + ": " + r.line()));
        out.println(m.line());
        boolean ok = errors == 0 && m.turnoutMs() >= 0 && m.turnoutMs() <= 50
                && rounds.stream().allMatch(r -> r.heldMaxMs() <= r.patroniMs() + 100);
        return ok ? 0 : 3;
    }

    private static long median(List<SwitchoverRound> rounds, java.util.function.ToLongFunction<SwitchoverRound> f) {
        long[] v = rounds.stream().mapToLong(f).toArray();
        Arrays.sort(v);
        return v.length == 0 ? -1 : v[v.length / 2];
    }
}
