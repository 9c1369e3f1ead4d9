package io.turnout.bench.failover;

import io.turnout.bench.failover.ClusterDriver.Failover;
import io.turnout.bench.failover.TxLoad.Tx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The figures of one failover round, from the clients' transaction records and the failover's instants
 * (all System.nanoTime). "The kill" is the span of the crash command: a transaction that began before it
 * returned was in flight on the old primary; one that began later must not fail.
 *
 * @param swapNanos key write to the first commit a client saw from the new leader; -1 when none came
 * @param errorsOutsideTx failed transactions that began after the kill (or, never expected, before it)
 * @param errorsInFlight failed transactions that began before the kill returned and ended after it started
 * @param txOnOldLeader distinct rows committed on the old leader after the key write: seen by a client, or
 *        found on the new primary (port and clock_timestamp)
 * @param heldMaxNanos the longest transaction held through the failover: begun before the first new-leader
 *        commit, still running when the kill began, not one of the in-flight failures
 * @param steps cumulative ms after the key write at which Turnout's watch saw the leader, applied it, logged
 *        in to it, logged in with a server it kept (not closed at once as pool_slot_moved), the first insert
 *        ran there (server clock) and a client saw the first commit; NaN: not seen
 * @param logins server logins to the new leader before the first commit; {@code slotMoves} how many of
 *        those servers Turnout closed right away to move their pool slot to another event loop
 * @param gcPauses stop-the-world GC pauses of this JVM (Turnout, Consul server, clients) within the swap,
 *        {@code gcMs} their total
 * @param directLoginMs median of direct pgjdbc logins to the new primary just after the swap (yardstick)
 * @param keyBeforePromotion the driver's DCS names the new leader before it leaves recovery (real Patroni):
 *        the report then shows promote_after_key_ms and turnout_ms
 * @param turnoutNanos Turnout's own share: from the later of the key write and the promotion to the first
 *        commit on the new leader (-1 when none came); equals swapNanos when the promotion came first
 * @param promotingRetries Turnout's logins that found the new leader still in recovery before the first commit
 *        ({@code leader_not_primary_yet}; it asks again every 20 ms)
 * @param firstErrors a few error texts of shard 0, in-flight ones first, for the report
 */
record Round(int number, Failover failover, long swapNanos, long errorsOutsideTx, long errorsInFlight,
             long txOnOldLeader, long heldMaxNanos, double tpsBefore, double tpsAfter, long controlErrors,
             double controlTpsBefore, double controlTpsDuring, double[] steps, long logins, long slotMoves,
             long gcPauses, long gcMs, double directLoginMs, boolean keyBeforePromotion, long turnoutNanos,
             long promotingRetries, List<String> firstErrors) {

    static final String[] STEP_NAMES = {"watch", "applied", "server_login", "kept_login", "first_insert",
        "first_commit"};

    /**
     * @param failed shard 0's transactions; {@code control} those of every other shard
     * @param database shard 0's Turnout database; {@code dbname} its name in PostgreSQL (server logins log it)
     * @param firstInsertMs when the new leader ran its first insert, ms after the key write by the wall clock
     * @param oldLeaderRows ids of failover_log rows on the new primary with the old port, written after the key
     * @param loadStart when the clients started; {@code loadEnd} when they were told to stop
     * @param dcs the driver's DCS, as Turnout's {@code <dcs>_leader_changed} event names it
     */
    static Round measure(int number, Failover f, List<Tx> failed, List<Tx> control, Set<Long> oldLeaderRows,
                         Timeline timeline, String database, String dbname, double firstInsertMs,
                         double directLoginMs, long loadStart, long loadEnd, String dcs, boolean keyBeforePromotion) {
        long firstNew = -1;
        for (Tx t : failed) {
            if (t.ok() && t.port() == f.newPort() && t.ended() >= f.keyWritten()
                    && (firstNew < 0 || t.ended() < firstNew)) {
                firstNew = t.ended();
            }
        }
        long outside = 0;
        long inFlight = 0;
        long heldMax = 0;
        Set<Long> onOld = new TreeSet<>(oldLeaderRows);
        List<String> inFlightErrors = new ArrayList<>();
        List<String> outsideErrors = new ArrayList<>();
        for (Tx t : failed) {
            if (!t.ok()) {
                boolean during = t.began() < f.killDone() && t.ended() >= f.killStarted();
                String text = String.format("%s %+.1f ms after the kill began: %s", during ? "in flight" : "OUTSIDE",
                        ms(t.began() - f.killStarted()), t.error());
                if (during) {
                    inFlight++;
                    inFlightErrors.add(text);
                } else {
                    outside++;
                    outsideErrors.add(text);
                }
            } else if (t.port() == f.oldPort() && t.ended() >= f.keyWritten()) {
                onOld.add(t.id());
            }
        }
        // held: everything that began before the first new-leader commit and was still running when the kill
        // began, except the in-flight failures. Under a saturated pool no client begins anything while the
        // primary is down (all are inside a transaction or queued in Turnout), so "began after the kill"
        // alone would be empty; the clients queued at the kill are the ones held longest.
        long heldUntil = firstNew < 0 ? loadEnd : firstNew;
        for (Tx t : failed) {
            boolean failedInFlight = !t.ok() && t.began() < f.killDone() && t.ended() >= f.killStarted();
            if (!failedInFlight && t.began() <= heldUntil && t.ended() >= f.killStarted()) {
                heldMax = Math.max(heldMax, t.ended() - t.began());
            }
        }
        long controlErrors = control.stream().filter(t -> !t.ok()).count();
        // steady state before: leave the first second out (logins, JIT); after: from the first new commit on
        long warm = loadStart + 1_000_000_000L;
        double tpsBefore = tps(failed, Math.min(warm, f.killStarted()), f.killStarted());
        double tpsAfter = firstNew < 0 ? 0 : tps(failed, firstNew, loadEnd);
        double cBefore = tps(control, Math.min(warm, f.killStarted()), f.killStarted());
        double cDuring = tps(control, f.killStarted(), loadEnd);

        double[] steps = new double[STEP_NAMES.length];
        // from the old key's deletion: a driver that watches the DCS for the key (real Patroni) sees the write
        // a little after it happened, and Turnout's own watch may see it first (a negative step)
        long since = Math.min(f.leaderGone(), f.keyWritten());
        Timeline.Event watch = timeline.first(dcs + "_leader_changed", since,
                Map.of("endpoint", "127.0.0.1:" + f.newPort()));
        Timeline.Event applied = timeline.first("topology_applied", since,
                Map.of("database", database, "fence", "false"));
        Timeline.Event login = timeline.first("server_login_ok", since, Map.of("db", dbname));
        steps[0] = watch == null ? Double.NaN : ms(watch.nanos() - f.keyWritten());
        steps[1] = applied == null ? Double.NaN : ms(applied.nanos() - f.keyWritten());
        steps[2] = login == null ? Double.NaN : ms(login.nanos() - f.keyWritten());
        Timeline.Event kept = timeline.firstKeptLogin(dbname, since);
        steps[3] = kept == null ? Double.NaN : ms(kept.nanos() - f.keyWritten());
        steps[4] = firstInsertMs;
        steps[5] = firstNew < 0 ? Double.NaN : ms(firstNew - f.keyWritten());

        // logins to the new leader before the first commit, and how many of them Turnout closed at once to
        // move their slot to another event loop (wasted work that delays the swap)
        long until = firstNew < 0 ? loadEnd : firstNew;
        long logins = timeline.count("server_login_ok", f.keyWritten(), until, e -> e.get("db").equals(dbname));
        // pool names are database/user; every user's pool of the database counts
        long moves = timeline.count("pool_slot_moved", f.keyWritten(), until,
                e -> e.get("pool").startsWith(database + "/"));
        long gcPauses = timeline.count("gc_pause", f.keyWritten(), until, e -> true);
        long gcMs = timeline.sumMs("gc_pause", f.keyWritten(), until);
        long promoting = timeline.count("leader_not_primary_yet", since, until,
                e -> e.get("pool").startsWith(database + "/"));
        long turnoutFrom = Math.max(f.keyWritten(), f.promoted());
        long turnoutNanos = firstNew < 0 ? -1 : firstNew - turnoutFrom;
        List<String> firstErrors = new ArrayList<>(outsideErrors.subList(0, Math.min(5, outsideErrors.size())));
        firstErrors.addAll(inFlightErrors.subList(0, Math.min(3, inFlightErrors.size())));
        return new Round(number, f, firstNew < 0 ? -1 : firstNew - f.keyWritten(), outside, inFlight, onOld.size(),
                heldMax, tpsBefore, tpsAfter, controlErrors, cBefore, cDuring, steps, logins, moves, gcPauses, gcMs,
                directLoginMs, keyBeforePromotion, turnoutNanos, promoting, firstErrors);
    }

    /** Commits that ended in [from, to) per second. */
    private static double tps(List<Tx> txs, long from, long to) {
        if (to <= from) {
            return 0;
        }
        long n = txs.stream().filter(t -> t.ok() && t.ended() >= from && t.ended() < to).count();
        return n / ((to - from) / 1e9);
    }

    static double ms(long nanos) {
        return nanos / 1e6;
    }

    long swapMs() {
        return swapNanos < 0 ? -1 : Math.round(ms(swapNanos));
    }

    /** Turnout's share in ms (see turnoutNanos), -1 when no commit came. */
    long turnoutMs() {
        return turnoutNanos < 0 ? -1 : Math.round(ms(turnoutNanos));
    }

    /** The new leader left recovery this long after its key was written (negative: before, as Consul mode does). */
    long promoteAfterKeyMs() {
        return Math.round(ms(failover.promoted() - failover.keyWritten()));
    }

    long heldMaxMs() {
        return Math.round(ms(heldMaxNanos));
    }

    /** The round's lines for the report. */
    List<String> report() {
        Failover f = failover;
        List<String> out = new ArrayList<>();
        out.add(String.format("round %d: port %d -> %d; kill %.0f ms, leader key gone +%.0f ms, promoted +%.0f ms, "
                        + "new leader key +%.0f ms (after the kill began)", number, f.oldPort(), f.newPort(),
                ms(f.killDone() - f.killStarted()), ms(f.leaderGone() - f.killStarted()),
                ms(f.promoted() - f.killStarted()), ms(f.keyWritten() - f.killStarted())));
        StringBuilder s = new StringBuilder("  swap " + (swapNanos < 0 ? "NONE" : String.format("%.1f ms", ms(swapNanos)))
                + " after the key write:");
        double prev = 0;
        for (int i = 0; i < steps.length; i++) {
            // a step may be negative when a driver watches the DCS for the key: Turnout's watch can see it first
            s.append(String.format(" %s %s", STEP_NAMES[i], Double.isNaN(steps[i]) ? "+?" : String.format("%+.1f",
                    steps[i] - prev)));
            if (!Double.isNaN(steps[i])) {
                prev = steps[i];
            }
        }
        s.append(String.format(" (server logins before it %d, closed at once as pool_slot_moved %d;"
                + " GC pauses in it %d, %d ms; a direct pgjdbc login to the new primary takes %.1f ms)", logins,
                slotMoves, gcPauses, gcMs, directLoginMs));
        out.add(s.toString());
        if (keyBeforePromotion) {
            Long detect = f.extra().get("patroni_detect_ms");
            out.add(String.format("  patroni_detect_ms=%s (kill to the new leader key; the old key was gone +%.0f ms"
                    + " after the kill, its lease's ttl) promote_after_key_ms=%d (Patroni's: key write to the new"
                    + " leader out of recovery) turnout_ms=%d (Turnout's: from the later of the two to the first"
                    + " commit; leader_not_primary_yet retries before it %d)", detect == null ? "?" : detect,
                    ms(f.leaderGone() - f.killStarted()), promoteAfterKeyMs(), turnoutMs(), promotingRetries));
        }
        if (!f.note().isEmpty()) {
            out.add("  " + f.note());
        }
        out.add(String.format("  errors: outside tx %d, in flight %d; tx on old leader %d; held max %d ms",
                errorsOutsideTx, errorsInFlight, txOnOldLeader, heldMaxMs()));
        out.add(String.format("  shard_a tps before %.0f, after %.0f; control shards: tps before %.0f, during+after %.0f, "
                + "errors %d", tpsBefore, tpsAfter, controlTpsBefore, controlTpsDuring, controlErrors));
        firstErrors.forEach(e -> out.add("  error: " + e));
        return out;
    }
}
