package io.turnout.proxy.pool;

import io.turnout.config.LoadBalanceHosts;
import java.util.ArrayList;
import java.util.List;

/**
 * Where one loop sends the new transactions of a (database, user) pool that reads replicas (issue 17): to the
 * eligible member with the fewest outstanding transactions on this loop (waiting or holding a server), ties
 * taken in turn (a static host list with load_balance_hosts disable: the first host written that can serve); a
 * member backing off (refused, not accepting logins) only when every one is. The leader path
 * is the pool's own shard, a candidate when the route includes the leader; with no candidate the shard holds
 * new transactions as it holds them without a leader. Lives on the shard's loop; no lock, no hop.
 */
final class MemberShards {
    private final PoolShard top;
    /** The route {@link #candidates} were built from (compared by identity: routes are immutable). */
    private ReadRoutes.Route seen;
    private PoolShard[] candidates = new PoolShard[0];
    /** Scratch for {@link #pick}, as long as {@link #candidates}: no allocation per transaction. */
    private int[] loads = new int[0];
    private boolean[] usable = new boolean[0];
    private int turn;

    MemberShards(PoolShard top) {
        this.top = top;
    }

    /** The shard a new transaction goes to: {@link #top} for a leader-only database. */
    PoolShard pick() {
        ReadRoutes.Route route = top.pool().db().readRoute();
        if (route == null) {
            return top;
        }
        PoolShard[] c = candidates(route);
        int n = c.length;
        if (n <= 1) {
            return n == 0 ? top : c[0];
        }
        if (top.pool().databaseConfig().routing().loadBalanceHosts() == LoadBalanceHosts.DISABLE) {
            for (PoolShard s : c) { // the first host in the order written that can serve
                if (!s.pool().waitingForTarget()) {
                    return s;
                }
            }
            return c[0];
        }
        turn = turn + 1 >= n ? 0 : turn + 1;
        for (int i = 0; i < n; i++) {
            loads[i] = c[i].load();
            usable[i] = !c[i].pool().waitingForTarget();
        }
        return c[choose(n, turn, loads, usable)];
    }

    /**
     * The index with the fewest outstanding transactions among the usable ones (among all when none is),
     * looking from {@code start} on so that ties go to each in turn.
     */
    static int choose(int n, int start, int[] loads, boolean[] usable) {
        int best = -1;
        for (int k = 0; k < n; k++) {
            int i = (start + k) % n;
            if (best < 0 || (usable[i] && !usable[best]) || (usable[i] == usable[best] && loads[i] < loads[best])) {
                best = i;
            }
        }
        return best;
    }

    private PoolShard[] candidates(ReadRoutes.Route route) {
        if (route != seen) {
            List<PoolShard> c = new ArrayList<>();
            if (route.leader()) {
                c.add(top);
            }
            for (ReadRoutes.Target t : route.standbys()) {
                c.add(top.pool().members().of(t).shard(top.loop()));
            }
            candidates = c.toArray(new PoolShard[0]);
            loads = new int[candidates.length];
            usable = new boolean[candidates.length];
            seen = route;
        }
        return candidates;
    }

    /**
     * Moves the waiters queued where new transactions would not go now: on a member that left the route or
     * backs off while another can serve, and on the leader path when the route left it out for standbys.
     */
    void reroute() {
        ReadRoutes.Route route = top.pool().db().readRoute();
        PoolShard[] c = route == null ? new PoolShard[0] : candidates(route);
        boolean anyUsable = false;
        for (PoolShard s : c) {
            anyUsable |= !s.pool().waitingForTarget();
        }
        List<PoolShard.Client> moved = new ArrayList<>();
        if (c.length > 0 && !contains(c, top)) {
            top.takeWaiters(moved);
        }
        for (Pool m : top.pool().members().all()) {
            PoolShard s = m.shard(top.loop());
            if (!contains(c, s) || (anyUsable && m.waitingForTarget())) {
                s.takeWaiters(moved);
            }
        }
        for (PoolShard.Client client : moved) {
            top.acquire(client);
        }
    }

    void cancelWait(PoolShard.Client client) {
        for (Pool m : top.pool().members().all()) {
            if (m.shard(top.loop()).removeWaiter(client)) {
                return;
            }
        }
    }

    void closeIdle() {
        for (Pool m : top.pool().members().all()) {
            m.shard(top.loop()).closeIdle();
        }
    }

    private static boolean contains(PoolShard[] shards, PoolShard s) {
        for (PoolShard x : shards) {
            if (x == s) {
                return true;
            }
        }
        return false;
    }
}
