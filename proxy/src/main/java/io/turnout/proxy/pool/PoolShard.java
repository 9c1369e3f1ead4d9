package io.turnout.proxy.pool;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoop;
import io.netty.channel.group.ChannelGroup;
import io.turnout.proxy.server.ParamSet;
import io.turnout.proxy.server.ServerConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The part of a {@link Pool} that belongs to one event loop: matches its waiting clients ({@link ShardWaiters})
 * with its servers ({@link ShardServers}) within the slots the pool allows this loop ({@link PoolSlots}).
 * Every method runs on {@link #loop()}; other threads only read the waiter and idle counts.
 */
public final class PoolShard {
    private static final Logger log = LoggerFactory.getLogger(PoolShard.class);

    /** A client that waits for, or gets, a server from this shard. */
    public interface Client {
        /** A server, logged in and idle, is now this client's. */
        void assign(ServerConnection server);

        /** No server will come (login failing, wait timeout): the client must be told and closed. */
        void refuse(String sqlState, String message);

        long waitStartNanos();

        /** The session parameters its server must have (a server logged in ahead is set up for them), or null. */
        default ParamSet params() {
            return null;
        }
    }

    /** How long the oldest waiter must wait before a slot is moved here from another loop. */
    private static final long SLOT_MOVE_AFTER_NANOS = 100_000_000L;

    private final Pool pool;
    private final EventLoop loop;
    private final int index;
    private final ShardStats stats;
    private final ShardWaiters waiters;
    private final ShardServers servers;
    /** The member pools' shards on this loop, for a (database, user) pool; null in a member pool. */
    private final MemberShards reads;

    PoolShard(Pool pool, EventLoop loop, int index, Bootstrap bootstrap, ChannelGroup channels, int maxPacketSize,
              ShardStats stats) {
        this.pool = pool;
        this.loop = loop;
        this.index = index;
        this.stats = stats;
        this.waiters = new ShardWaiters(pool);
        this.servers = new ShardServers(this, pool, bootstrap, channels, maxPacketSize);
        this.reads = pool.member() == null ? new MemberShards(this) : null;
    }

    public Pool pool() {
        return pool;
    }

    public EventLoop loop() {
        return loop;
    }

    /** This shard's traffic counters; only this loop writes them. */
    public ShardStats stats() {
        return stats;
    }

    // ---- clients ----

    /** Gives {@code client} an idle server now, or queues it until one is ready. */
    public void acquire(Client client) {
        if (pool.paused()) {
            waiters.add(client); // PAUSE: held until RESUME, however many servers are idle
            return;
        }
        PoolShard to = reads == null ? this : reads.pick();
        if (to != this) {
            to.acquire(client); // a standby's member pool
            return;
        }
        ServerConnection server = servers.takeIdle();
        if (server != null) {
            give(client, server);
            return;
        }
        if (pool.refusingClients() && servers.connecting == 0) {
            client.refuse(pool.loginErrorState(), loginFailingMessage());
            return;
        }
        waiters.add(client);
        fill();
    }

    /** The client left (or timed out) while queued. */
    public void cancelWait(Client client) {
        waiters.remove(client);
        if (reads != null) {
            reads.cancelWait(client);
        }
    }

    /** The linked client is done with {@code server} (of this pool or of one of its member pools). */
    public void release(ServerConnection server) {
        if (server.owner() instanceof ShardServers owner && owner != servers) {
            owner.shard().offer(server);
            return;
        }
        offer(server);
    }

    private void give(Client c, ServerConnection server) {
        if (reads == null) {
            pool.memberTransactions.increment();
        } else if (pool.db().readsReplicas()) { // the leader, a member of this database's read route
            pool.members().countLeaderPath();
        }
        c.assign(server);
    }

    /**
     * A server is free again: a client released it, it logged in, or passed its check. It goes to the
     * oldest waiter, or back to the idle list, or is closed when it must not be reused.
     */
    void offer(ServerConnection server) {
        if (server.state() == ServerConnection.State.CLOSED) {
            return;
        }
        if (servers.mustClose(server, System.nanoTime()) || pool.slots().overLimit()) {
            server.close();
            return;
        }
        if (server.parkWhileCancelling()) {
            return; // offered again when its cancels are done (ShardServers.cancelsEnded)
        }
        if (pool.paused()) {
            servers.park(server); // PAUSE closes it once every server is back
            return;
        }
        if (pool.slots().othersWait(servers.owned, waiters.size(), true)) {
            // clients of other loops wait while this loop holds more than its share of the pool: the slot is theirs
            log.debug("pool_slot_moved pool={} from_loop={} owned={}", pool, index, servers.owned);
            server.close();
            return;
        }
        Client c = waiters.poll();
        if (c != null) {
            give(c, server);
            return;
        }
        servers.park(server);
    }

    /** RESUME, or room appeared: waiters take idle servers, then servers are opened for the rest. */
    void serveWaiters() {
        if (pool.paused()) {
            return;
        }
        if (reads != null) {
            reads.reroute(); // after RESUME: waiters held here may belong to a standby now
        }
        while (!waiters.isEmpty()) {
            ServerConnection s = servers.takeIdle();
            if (s == null) {
                break;
            }
            give(waiters.poll(), s);
        }
        fill();
    }

    /** The read route changed, or a member backs off: move the waiters no longer where new ones would go. */
    void reroute() {
        if (reads != null && !pool.paused()) {
            reads.reroute();
        }
    }

    /** Outstanding transactions on this shard: clients waiting, and servers handed out. */
    int load() {
        return waiters.size() + servers.busy();
    }

    /** Takes every waiter off this shard's queue, oldest first (they are queued again elsewhere). */
    void takeWaiters(java.util.List<Client> out) {
        Client c;
        while ((c = waiters.poll()) != null) {
            out.add(c);
        }
    }

    /** True when the client is queued on this shard (a member's; used to cancel a wait). */
    boolean removeWaiter(Client client) {
        return waiters.remove(client);
    }

    // ---- slots ----

    /** Opens servers for queued clients while the pool has slots. */
    void fill() {
        // a switchover's candidate, a standby that accepts logins: log in what the waiters need ahead of its promotion
        boolean ahead = pool.loggingInAhead();
        if (waiters.isEmpty() || pool.paused() || (pool.waitingForTarget() && !ahead)) {
            return;
        }
        if (pool.loginFailing()) {
            if (servers.connecting == 0) {
                failWaitersWhileLoginFails(); // only when no live server could serve them later
            }
            return;
        }
        boolean reserve = pool.databaseConfig().reservePoolSize() > 0
                && waiters.oldestWaitedLongerThan(pool.settings().reservePoolTimeout().toNanos());
        // a new leader not yet proven: one login first (it is the primary check), the rest once it is a primary or,
        // for a switchover's candidate, once it answers as a standby (they wait for its promotion); a server refusing
        // logins (57P03) likewise gets one probe per retry, not a login per waiter
        int probing = !ahead && ((pool.databaseConfig().isPatroni() && !pool.targetConfirmed()) || pool.backingOff())
                ? 1 : Integer.MAX_VALUE;
        // holding its share while other loops' clients wait, this loop leaves them the rest of the slots: else
        // it closes each server it gets back to move a slot (see offer) and takes that very slot again at once
        while (waiters.size() > servers.connecting + servers.checking && servers.connecting < probing
                && !pool.slots().othersWait(servers.owned, waiters.size(), false) && pool.slots().tryReserve(reserve)) {
            servers.open();
        }
    }

    /**
     * Another loop's clients have waited a while with every slot taken: close this loop's least recently
     * used idle server so the slot moves there. Costs them a new server login, so it is done only when
     * the imbalance lasts (see {@link #janitor}), never on the hot path.
     */
    void shedIdleForOthers() {
        if (waiters.isEmpty() && servers.closeOneIdle()) {
            log.debug("pool_slot_moved pool={} from_loop={}", pool, index);
        }
    }

    /** Periodic upkeep on this loop: wait timeouts, the reserve pool, slot moves, idle timeouts, min_pool_size. */
    void janitor(long now) {
        waiters.expire(now);
        if (!waiters.isEmpty()) {
            fill();
            if (waiters.size() > servers.connecting + servers.checking
                    && waiters.oldestWaitedLongerThan(SLOT_MOVE_AFTER_NANOS)) {
                pool.slots().request(this);
            }
        }
        int min = pool.slots().minShare(index);
        servers.closeExpiredIdle(now, min);
        int total = pool.databaseConfig().minPoolSize();
        while (!pool.loginFailing() && !pool.paused() && !pool.waitingForTarget() && pool.serverCount() < total
                && servers.idleSize() + servers.connecting < min && pool.slots().tryReserve(false)) {
            servers.open();
        }
    }

    /** The parameters the longest-waiting client wants, or null when none waits. */
    ParamSet waiterParams() {
        Client c = waiters.oldest();
        return c == null ? null : c.params();
    }

    /** The new leader proved a primary: the servers logged in to it ahead serve, then the rest are opened. */
    void targetConfirmed() {
        servers.releaseSpares();
        fill();
    }

    // ---- refusing waiters ----

    void failWaitersWhileLoginFails() {
        if (pool.refusingClients()) {
            waiters.refuseAll(pool.loginErrorState(), loginFailingMessage());
        }
    }

    /** Every queued client is refused with this error. */
    void refuseWaiters(String sqlState, String message) {
        waiters.refuseAll(sqlState, message);
    }

    private String loginFailingMessage() {
        return "server login has been failing for pool " + pool + ", try again later (server_login_retry): "
                + pool.loginError();
    }

    // ---- stale servers ----

    /**
     * A RECONNECT, RELOAD or new leader made this loop's servers stale: see {@link ShardServers#retire}; then
     * waiting clients get servers of the new generation.
     */
    void retire(boolean fence) {
        servers.retire(fence);
        serveWaiters();
    }

    /** A drained leader's servers, still running transactions, tell their client why if PostgreSQL stops. */
    void explainOldServersLost(String reason) {
        servers.explainOldServersLost(reason);
    }

    /** Closes every idle server (shutdown, PAUSE, KILL). */
    public void closeIdle() {
        servers.closeIdle();
        if (reads != null) {
            reads.closeIdle();
        }
    }

    boolean hasWaiters() {
        return waiters.any();
    }

    int idleCount() {
        return servers.idleCount();
    }
}
