package io.turnout.proxy.pool;

/**
 * A static server that logged Turnout in before and now refuses connections is most likely restarting
 * ({@code pg_ctl restart -m fast} refuses them between its stop and its start, an upgrade likewise): its pool
 * holds clients and retries, as for 57P03, for up to server_login_retry from the first refusal, and only then
 * refuses them as PgBouncer does (which refuses them at once, for server_login_retry). Patroni databases have
 * their own rule for an unreachable leader. Called from any loop: two first refusals racing move the start
 * by microseconds.
 */
final class RestartHold {
    private volatile long sinceNanos;

    /** A login failed: true when it is a refused connection that {@code pool} should hold its clients through. */
    boolean holds(Pool pool, String sqlState) {
        boolean refused = sqlState == null || sqlState.equals("08006"); // Turnout's own: refused, timed out, EOF
        if (!refused || pool.welcome() == null || pool.databaseConfig().isPatroni()) {
            return false;
        }
        long now = System.nanoTime();
        if (sinceNanos == 0) {
            sinceNanos = now;
        }
        return now - sinceNanos < pool.settings().serverLoginRetry().toNanos();
    }

    /** A login succeeded: the next refusal starts a new hold. */
    void ended() {
        sinceNanos = 0;
    }
}
