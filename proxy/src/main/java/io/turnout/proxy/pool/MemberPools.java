package io.turnout.proxy.pool;

import java.util.Collection;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The member pools of one (database, user) pool that reads replicas (issue 17): one {@link Pool} per member
 * target, with its own servers, slots (pool_size each), waiters and backoff, created when a route first names
 * the member and kept (empty once it left the route). The (database, user) pool itself is the leader path.
 */
public final class MemberPools {
    private final Pool pool;
    private final Pools pools;
    private final Map<String, Pool> byKey = new ConcurrentHashMap<>();

    MemberPools(Pool pool, Pools pools) {
        this.pool = pool;
        this.pools = pools;
    }

    /** The member pool of {@code target}, created on first use. */
    Pool of(ReadRoutes.Target target) {
        return byKey.computeIfAbsent(target.key(), k -> pools.memberPool(pool, target));
    }

    /** Every member pool created so far, whether its member is in the route or not. */
    public Collection<Pool> all() {
        return byKey.values();
    }

    /**
     * The route changed: members that left it get no new transaction (their idle servers close now, busy ones
     * when released), the leader path likewise when the route left the leader out, and each loop moves the
     * waiters that are no longer where the route sends them.
     */
    void routeChanged() {
        ReadRoutes.Route r = pool.db().readRoute();
        Set<String> in = new HashSet<>();
        if (r != null) {
            r.standbys().forEach(t -> in.add(t.key()));
        }
        byKey.forEach((key, m) -> {
            boolean routed = in.contains(key);
            m.routed(routed);
            if (!routed) {
                m.bumpGeneration(false);
            }
        });
        if ((r == null || !r.leader()) && pool.serverCount() > 0) {
            pool.retarget(false);
        }
        reroute();
    }

    /** A server of {@code member} proved not to be a standby: the member leaves the route until its key changes. */
    void refuse(ReadRoutes.Target member) {
        if (pool.db().reads().refuse(member.name())) {
            pools.routeChanged(pool.db());
        }
    }

    /** Each loop moves the waiters held where the route no longer sends them (or by a member backing off). */
    void reroute() {
        for (PoolShard s : pool.shards()) {
            s.loop().execute(s::reroute);
        }
    }
}
