package io.turnout.proxy.pool;

/**
 * Whether a pool may open servers to its target now, shared by the pool's loops: the backoff after the target
 * refused a login or was still in recovery, the proof that this generation's target is a primary (Patroni
 * databases), and whether it answered as a hot standby, so that servers may log in to it ahead of its promotion.
 * Volatiles read on the hot path; the few writers synchronize.
 */
final class PoolTarget {
    /**
     * The target could not be used (connection refused, still in recovery): new servers are not opened before
     * this time, and waiting clients are held meanwhile.
     */
    private volatile long retryAtNanos;
    private volatile long backoffNanos;
    private volatile String holdReason;
    /**
     * The generation whose target a server proved a primary (Patroni databases), or -1: by generation, so that a
     * probe's answer that crossed a retarget proves nothing about the new target.
     */
    private volatile int confirmedGeneration = -1;
    /** The generation whose target answered as a hot standby awaiting promotion, or -1. */
    private volatile int standbyGeneration = -1;

    /**
     * Hold waiters and retry after a backoff that doubles from {@code retry}'s first delay up to its cap. The servers
     * opened for one round of waiters fail together (a promoting leader refuses them all): only the first failure of
     * a round doubles the backoff, the others keep its retry time. Returns the delay until the retry.
     */
    synchronized long unusable(String reason, Retry retry) {
        if (retry != Retry.PROMOTING) {
            standbyGeneration = -1; // it refused a login: no more logins ahead until it answers again
        }
        holdReason = reason;
        long now = System.nanoTime();
        long delay = retryAtNanos - now;
        if (retryAtNanos == 0 || delay <= 0) {
            delay = Math.min(retry.capNanos, Math.max(retry.firstNanos, backoffNanos * 2));
            backoffNanos = delay;
            retryAtNanos = now + delay;
        }
        return delay;
    }

    /** Generation {@code generation}'s target answered as a hot standby; true the first time. */
    synchronized boolean standby(int generation) {
        if (standbyGeneration == generation) {
            return false;
        }
        standbyGeneration = generation;
        return true;
    }

    /** True while generation {@code generation}'s target is a hot standby that accepts logins, not proven primary. */
    boolean awaitingPromotion(int generation) {
        return standbyGeneration == generation && confirmedGeneration != generation;
    }

    /** A server of the current target proved usable: no more backoff. */
    synchronized void usable() {
        if (retryAtNanos != 0 || backoffNanos != 0) {
            retryAtNanos = 0;
            backoffNanos = 0;
            holdReason = null;
        }
    }

    /** Generation {@code generation}'s target proved a primary; true the first time. */
    synchronized boolean confirm(int generation) {
        if (confirmedGeneration == generation) {
            return false;
        }
        confirmedGeneration = generation;
        return true;
    }

    boolean confirmed(int generation) {
        return confirmedGeneration == generation;
    }

    /** True after a refused login until one succeeds: one login probes the target at a time. */
    boolean backingOff() {
        return backoffNanos != 0;
    }

    /** True until the retry time after the target was found unusable. */
    boolean retryPending() {
        long at = retryAtNanos;
        return at != 0 && System.nanoTime() - at < 0;
    }

    String holdReason() {
        return holdReason;
    }
}
