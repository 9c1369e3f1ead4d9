package io.turnout.proxy.pool;

import io.turnout.config.topology.ClusterState;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One database's planned switchovers: when the shard started draining its leader, how each one ended
 * (completed: a new leader; cancelled: the request went away and the old leader serves again; timed_out:
 * switchover_hold_timeout passed) and how long new transactions were held. The topology applier drives it
 * under its lock; metrics and SHOW TOPOLOGY read the counters from any thread.
 */
public final class SwitchoverDrain {
    private static final Logger log = LoggerFactory.getLogger(SwitchoverDrain.class);

    public enum Result {
        COMPLETED, CANCELLED, TIMED_OUT;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final String database;
    private final AtomicLong[] results = {new AtomicLong(), new AtomicLong(), new AtomicLong()};
    private final AtomicLong holdNanosTotal = new AtomicLong();
    private volatile long lastHoldNanos;
    // the applier's lock
    private String from;
    private long startNanos;
    private ScheduledFuture<?> expiry;
    /** The request switchover_hold_timeout gave up on: its DRAINING state is applied as LEADER. */
    private ClusterState expired;

    SwitchoverDrain(String database) {
        this.database = database;
    }

    /** True from the first DRAINING state until a leader serves again. */
    synchronized boolean active() {
        return from != null;
    }

    /** The shard began draining {@code s.leaderName()}; {@code expiry} ends it at switchover_hold_timeout. */
    synchronized void begin(ClusterState s, ScheduledFuture<?> timeout) {
        from = s.leaderName();
        startNanos = System.nanoTime();
        expiry = timeout;
        log.info("switchover_draining database={} leader={} candidate={}", database, from, s.candidate());
    }

    /** A leader serves again: the candidate (or any other member) completes it, the old one cancels it. */
    synchronized void leaderServes(ClusterState s) {
        if (from != null) {
            end(from.equals(s.leaderName()) ? Result.CANCELLED : Result.COMPLETED, s.leaderName());
        }
    }

    synchronized void timedOut(ClusterState draining) {
        expired = draining;
        if (from != null) {
            end(Result.TIMED_OUT, from);
        }
    }

    /** True when {@code s} drains for the request that timed out (same leader, candidate and start). */
    synchronized boolean expired(ClusterState s) {
        return expired != null && s.draining() && java.util.Objects.equals(s.leaderName(), expired.leaderName())
                && java.util.Objects.equals(s.candidate(), expired.candidate())
                && java.util.Objects.equals(s.drainingSince(), expired.drainingSince());
    }

    private void end(Result r, String leader) {
        long held = System.nanoTime() - startNanos;
        results[r.ordinal()].incrementAndGet();
        holdNanosTotal.addAndGet(held);
        lastHoldNanos = held;
        log.info("switchover_ended database={} result={} from={} leader={} held_ms={}", database, r.label(), from,
                leader, held / 1_000_000);
        from = null;
        if (expiry != null) {
            expiry.cancel(false);
            expiry = null;
        }
    }

    public long count(Result r) {
        return results[r.ordinal()].get();
    }

    /** Time new transactions were held by switchovers, summed over every ended one. */
    public long holdNanosTotal() {
        return holdNanosTotal.get();
    }

    public long lastHoldNanos() {
        return lastHoldNanos;
    }
}
