package io.turnout.config.topology;

import java.util.function.Consumer;

/**
 * Watches Patroni clusters in a DCS and publishes {@link Topology} snapshots.
 *
 * <p>The listener runs on the source's own thread, only when a value changed (not on every DCS reply),
 * and must not block: a consumer that needs another thread hops there itself. Snapshots are published
 * in version order.
 */
public interface TopologySource extends AutoCloseable {
    /** Which DCS this is ("consul", "etcd"): for SHOW TOPOLOGY and logs. */
    String kind();

    /** Starts watching the scopes added so far (and any added later); {@code listener} gets each new snapshot. */
    void start(Consumer<Topology> listener);

    /** Adds a scope to watch; safe from any thread, a no-op when already watched. Publishes it as UNKNOWN first. */
    void watch(String scope);

    /**
     * Watches {@code scope} as {@link #watch} does and also every one of its members (role, state, lag, tags)
     * and the leader's last LSN, published as {@link Topology#members}: for databases that read from standbys.
     * Safe from any thread, a no-op when already done. Costs more than a leader watch: every member rewrites
     * its key each loop_wait.
     */
    void watchMembers(String scope);

    /** Also list the scopes present under the namespace into {@link Topology#discoveredScopes()} (wildcard databases). */
    void discover();

    /** The latest published snapshot (safe from any thread). */
    Topology current();

    /** Stops every watch; no listener call starts after this returns. */
    @Override
    void close();

    /** What {@link #watch} accepts: a Patroni scope is one path segment of the DCS keys. */
    static void checkScope(String scope) {
        if (scope == null || scope.isEmpty() || scope.indexOf('/') >= 0) {
            throw new IllegalArgumentException("bad Patroni scope '" + scope + "'");
        }
    }
}
