package io.turnout.proxy.pool;

import io.turnout.proxy.server.ServerConnection;
import java.util.Collection;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The member pools of one (database, user) pool that reads replicas (issue 17): one {@link Pool} per member
 * target (a Patroni standby, or a host of a static list), with its own servers, slots (pool_size each), waiters
 * and backoff, created when a route first names the member and kept (empty once it left the route). The
 * (database, user) pool itself is the leader path.
 */
public final class MemberPools {
    private static final Logger log = LoggerFactory.getLogger(MemberPools.class);

    private final Pool pool;
    private final Pools pools;
    private final Map<String, Pool> byKey = new ConcurrentHashMap<>();
    /**
     * Transactions the leader path served, by the leader's member name when each began (`any`, and
     * `prefer-standby` with no standby): the leader is a member of the read route like the standbys.
     */
    private final Map<String, java.util.concurrent.atomic.LongAdder> leaderPath = new ConcurrentHashMap<>();
    /** The member keys the last {@link #routeChanged} found in the route. */
    private Set<String> routedKeys = Set.of();

    MemberPools(Pool pool, Pools pools) {
        this.pool = pool;
        this.pools = pools;
    }

    /** The member pool of {@code target}, created on first use. */
    Pool of(ReadRoutes.Target target) {
        return byKey.computeIfAbsent(target.key(), k -> pools.memberPool(pool, target));
    }

    /** A transaction began on the leader path of this database (a Patroni shard's leader). */
    void countLeaderPath() {
        String leader = pool.db().leaderMember();
        if (leader != null) {
            leaderPath.computeIfAbsent(leader, k -> new java.util.concurrent.atomic.LongAdder()).increment();
        }
    }

    /** Transactions the leader path served while {@code member} was the leader. */
    public long leaderPathTransactions(String member) {
        java.util.concurrent.atomic.LongAdder n = leaderPath.get(member);
        return n == null ? 0 : n.sum();
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
    synchronized void routeChanged() {
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
            } else if (!routedKeys.contains(key)) {
                m.targetUsable(); // back in the route on new evidence: no backoff left from before
            }
        });
        routedKeys = in;
        if ((r == null || !r.leader()) && pool.serverCount() > 0) {
            pool.retarget(false);
        }
        reroute();
    }

    /**
     * A server of member pool {@code m} answered whether it is a standby (null: the question failed); true when it
     * may serve. A Patroni member must be one, else it leaves the route until its key changes; a static host's
     * answer is simply what it is now ({@link StaticHosts}), and it serves while the route has it.
     */
    boolean checked(Pool m, ServerConnection server, Boolean standby, String evidence) {
        StaticHosts hosts = pool.db().staticHosts();
        if (hosts != null) {
            if (standby == null ? hosts.unreachable(m.member(), evidence)
                    : hosts.learnt(m.member(), standby, StaticHosts.readOnly(server), evidence)) {
                pools.routeChanged(pool.db());
            }
            return standby != null && hosts.routes(m.member());
        }
        if (standby == null || !standby) {
            log.warn("replica_refused pool={} member={} server={} evidence=\"{}\"", m, m.member().name(),
                    server.address(), evidence);
            // no login storm meanwhile: its waiters move to another member, or retry after the backoff
            m.targetUnusable("the standby " + m.member().name() + " " + server.address() + " cannot serve: "
                    + evidence, Retry.UNREACHABLE);
            if (standby != null) {
                refuse(m.member()); // out of the route until its key changes
            }
            return false;
        }
        return true;
    }

    /**
     * A login to {@code member} failed: a static host leaves the route until a probe gets in, and its waiters move
     * (true); a Patroni member is left to its pool's backoff (false).
     */
    boolean unreachable(ReadRoutes.Target member, String why) {
        StaticHosts hosts = pool.db().staticHosts();
        if (hosts == null) {
            return false;
        }
        if (hosts.unreachable(member, why)) {
            pools.routeChanged(pool.db());
        }
        reroute();
        return true;
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
