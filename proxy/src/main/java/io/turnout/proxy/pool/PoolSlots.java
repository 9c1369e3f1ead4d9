package io.turnout.proxy.pool;

import io.turnout.config.DatabaseConfig;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The server slots of one pool and their balance between event loops: the count held against pool_size (plus
 * the reserve) and max_db_connections, each loop's fair part of the pool, and moving a slot to a loop whose
 * clients wait. Lock-free: the count is an atomic, and other loops are asked with one {@code execute} hop.
 */
final class PoolSlots {
    private final Pool pool;
    private final Database database;
    private final AtomicInteger servers = new AtomicInteger();

    PoolSlots(Pool pool, Database database) {
        this.pool = pool;
        this.database = database;
    }

    /** Takes a server slot if the pool (plus the reserve, when allowed) and the database limit have room. */
    boolean tryReserve(boolean useReserve) {
        DatabaseConfig db = database.config();
        int limit = db.poolSize() + (useReserve ? db.reservePoolSize() : 0);
        int maxDb = db.maxDbConnections();
        AtomicInteger databaseServers = database.serverCounter();
        while (true) {
            int n = servers.get();
            if (n >= limit) {
                return false;
            }
            if (databaseServers.incrementAndGet() > maxDb && maxDb > 0) {
                databaseServers.decrementAndGet();
                return false;
            }
            if (servers.compareAndSet(n, n + 1)) {
                return true;
            }
            databaseServers.decrementAndGet();
        }
    }

    /** More servers than pool_size plus reserve: a RELOAD or SET shrank the pool. */
    boolean overLimit() {
        DatabaseConfig db = database.config();
        return servers.get() > db.poolSize() + db.reservePoolSize();
    }

    /** Gives a slot back and lets shards whose clients wait use it (one hop each, only when they wait). */
    void release(PoolShard from) {
        servers.decrementAndGet();
        database.serverCounter().decrementAndGet();
        if (pool.waitingCounter().get() > 0) {
            for (PoolShard s : pool.shards()) {
                if (s != from && s.hasWaiters()) {
                    s.loop().execute(s::fill);
                }
            }
        }
    }

    /** {@code from}'s clients wait while every slot is taken: ask a shard holding idle servers to free one. */
    void request(PoolShard from) {
        for (PoolShard s : pool.shards()) {
            if (s != from && s.idleCount() > 0) {
                s.loop().execute(s::shedIdleForOthers);
                return;
            }
        }
    }

    int count() {
        return servers.get();
    }

    /**
     * True when a loop owning {@code owned} servers holds its share of the pool ({@code beyond}: more than
     * it) while clients of other loops wait: the rest of the slots are theirs. Without this, under saturation
     * the loop that started with fewer servers starves for good.
     */
    boolean othersWait(int owned, int localWaiters, boolean beyond) {
        int share = fairShare();
        return (beyond ? owned > share : owned >= share) && pool.waitingCounter().get() > localWaiters;
    }

    /** A loop's part of pool_size when every loop wants servers. */
    private int fairShare() {
        int n = pool.shards().length;
        return (database.config().poolSize() + n - 1) / n;
    }

    /** Loop {@code index}'s part of min_pool_size. */
    int minShare(int index) {
        int min = database.config().minPoolSize();
        int n = pool.shards().length;
        return min / n + (index < min % n ? 1 : 0);
    }
}
