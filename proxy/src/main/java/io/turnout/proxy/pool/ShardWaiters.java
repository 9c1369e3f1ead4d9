package io.turnout.proxy.pool;

import io.turnout.protocol.SqlState;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The clients of one pool shard that wait for a server, oldest first, and their wait timeouts. Touched only
 * on the shard's loop; the counts are atomics because other loops read them (to move slots, to wake shards).
 */
final class ShardWaiters {
    private final Pool pool;
    private final ArrayDeque<PoolShard.Client> queue = new ArrayDeque<>();
    /** This shard's waiters, for other loops. */
    private final AtomicInteger count = new AtomicInteger();

    ShardWaiters(Pool pool) {
        this.pool = pool;
    }

    void add(PoolShard.Client client) {
        queue.addLast(client);
        count.incrementAndGet();
        pool.waitingCounter().incrementAndGet();
    }

    /** The oldest waiter, taken off the queue, or null. */
    PoolShard.Client poll() {
        PoolShard.Client c = queue.pollFirst();
        if (c != null) {
            count.decrementAndGet();
            pool.waitingCounter().decrementAndGet();
        }
        return c;
    }

    /** The client left (or timed out) while queued. */
    boolean remove(PoolShard.Client client) {
        if (queue.remove(client)) {
            count.decrementAndGet();
            pool.waitingCounter().decrementAndGet();
            return true;
        }
        return false;
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    int size() {
        return queue.size();
    }

    /** True when this shard has waiters; safe on any thread. */
    boolean any() {
        return count.get() > 0;
    }

    /** The client waiting longest, or null. */
    PoolShard.Client oldest() {
        return queue.peekFirst();
    }

    /** True when the oldest waiter has waited longer than {@code nanos}. */
    boolean oldestWaitedLongerThan(long nanos) {
        PoolShard.Client first = queue.peekFirst();
        return first != null && System.nanoTime() - first.waitStartNanos() > nanos;
    }

    /** Every queued client is refused with this error. */
    void refuseAll(String sqlState, String message) {
        List<PoolShard.Client> failed = new ArrayList<>(queue);
        queue.clear();
        count.addAndGet(-failed.size());
        pool.waitingCounter().addAndGet(-failed.size());
        for (PoolShard.Client c : failed) {
            c.refuse(sqlState, message);
        }
    }

    /**
     * Refuses the clients that waited too long: query_wait_timeout, or while the pool holds them for a leader
     * failover_hold_timeout, or during a planned switchover switchover_hold_timeout. None while paused.
     */
    void expire(long now) {
        boolean holding = pool.holding();
        boolean draining = holding && pool.db().cluster() != null && pool.db().cluster().draining();
        var settings = pool.settings();
        long timeout = pool.paused() ? 0 : draining ? settings.switchoverHoldTimeout().toNanos()
                : holding ? settings.failoverHoldTimeout().toNanos() : settings.queryWaitTimeout().toNanos();
        while (timeout > 0 && !queue.isEmpty() && now - queue.peekFirst().waitStartNanos() > timeout) {
            PoolShard.Client c = poll();
            if (draining) {
                c.refuse(SqlState.CONNECTION_FAILURE, "switchover_hold_timeout: database " + pool.database()
                        + " (Patroni scope " + pool.databaseConfig().patroniScope() + ") was being switched over for "
                        + settings.switchoverHoldTimeout().toSeconds() + " s without a new leader");
            } else if (holding) {
                c.refuse(SqlState.CONNECTION_FAILURE, "failover_hold_timeout: database " + pool.database()
                        + " " + pool.db().heldFor()
                        + settings.failoverHoldTimeout().toSeconds() + " s: "
                        + pool.holdReason());
            } else {
                c.refuse(SqlState.CONNECTION_FAILURE, "query_wait_timeout: no server connection became free within "
                        + settings.queryWaitTimeout().toSeconds() + " s for pool " + pool + " (pool_size "
                        + pool.databaseConfig().poolSize() + ")");
            }
        }
    }
}
