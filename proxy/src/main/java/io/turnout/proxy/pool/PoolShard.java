package io.turnout.proxy.pool;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoop;
import io.netty.channel.group.ChannelGroup;
import io.turnout.protocol.SqlState;
import io.turnout.proxy.server.ServerConnection;
import io.turnout.proxy.server.ServerOwner;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The part of a {@link Pool} that belongs to one event loop: its idle servers and its waiting clients.
 * Every method runs on {@link #loop()}; other threads only read the two counters.
 */
public final class PoolShard implements ServerOwner {
    private static final Logger log = LoggerFactory.getLogger(PoolShard.class);

    /** A client that waits for, or gets, a server from this shard. */
    public interface Client {
        /** A server, logged in and idle, is now this client's. */
        void assign(ServerConnection server);

        /** No server will come (login failing, wait timeout): the client must be told and closed. */
        void refuse(String sqlState, String message);

        long waitStartNanos();
    }

    /** How long the oldest waiter must wait before a slot is moved here from another loop. */
    private static final long SLOT_MOVE_AFTER_NANOS = 100_000_000L;

    private final Pool pool;
    private final EventLoop loop;
    private final int index;
    private final Bootstrap bootstrap;
    private final ChannelGroup channels;
    private final int maxPacketSize;
    private final ShardStats stats;
    /** Most recently used last: taking from the tail keeps warm connections busy and lets cold ones age out. */
    private final ArrayDeque<ServerConnection> idle = new ArrayDeque<>();
    private final ArrayDeque<Client> waiters = new ArrayDeque<>();
    /** Every server of this loop that is not closed yet, whatever its state (fencing closes them at once). */
    private final java.util.LinkedHashSet<ServerConnection> servers = new java.util.LinkedHashSet<>();
    private final AtomicInteger waiterCount = new AtomicInteger();
    private final AtomicInteger idleCount = new AtomicInteger();
    private int connecting;
    private int checking;
    /** Servers of this loop: logging in, idle, checking or linked. */
    private int owned;

    PoolShard(Pool pool, EventLoop loop, int index, Bootstrap bootstrap, ChannelGroup channels, int maxPacketSize,
              ShardStats stats) {
        this.pool = pool;
        this.stats = stats;
        this.channels = channels;
        this.loop = loop;
        this.index = index;
        this.bootstrap = bootstrap;
        this.maxPacketSize = maxPacketSize;
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
            enqueue(client); // PAUSE: held until RESUME, however many servers are idle
            return;
        }
        ServerConnection server = takeIdle();
        if (server != null) {
            client.assign(server);
            return;
        }
        if (pool.refusingClients() && connecting == 0) {
            client.refuse(pool.loginErrorState(), loginFailingMessage());
            return;
        }
        enqueue(client);
        fill();
    }

    private void enqueue(Client client) {
        waiters.addLast(client);
        waiterCount.incrementAndGet();
        pool.waitingCounter().incrementAndGet();
    }

    /** RESUME, or room appeared: waiters take idle servers, then servers are opened for the rest. */
    void serveWaiters() {
        if (pool.paused()) {
            return;
        }
        while (!waiters.isEmpty()) {
            ServerConnection s = takeIdle();
            if (s == null) {
                break;
            }
            pollWaiter().assign(s);
        }
        fill();
    }

    /** The client left (or timed out) while queued. */
    public void cancelWait(Client client) {
        if (waiters.remove(client)) {
            waiterCount.decrementAndGet();
            pool.waitingCounter().decrementAndGet();
        }
    }

    private Client pollWaiter() {
        Client c = waiters.pollFirst();
        if (c != null) {
            waiterCount.decrementAndGet();
            pool.waitingCounter().decrementAndGet();
        }
        return c;
    }

    /**
     * A server is free again: a client released it, it logged in, or passed its check. It goes to the
     * oldest waiter, or back to the idle list, or is closed when it must not be reused.
     */
    public void offer(ServerConnection server) {
        if (server.state() == ServerConnection.State.CLOSED) {
            return;
        }
        if (mustClose(server, System.nanoTime()) || pool.overLimit()) {
            server.close();
            return;
        }
        if (server.parkWhileCancelling()) {
            return; // offered again when its cancels are done (cancelsEnded)
        }
        if (pool.paused()) {
            idle.addLast(server); // PAUSE closes it once every server is back
            idleCount.incrementAndGet();
            return;
        }
        if (owned > fairShare() && pool.waitingCounter().get() > waiters.size()) {
            // Clients of other loops wait while this loop holds more than its share of the pool: give the
            // slot to them, or under saturation the loop that started with fewer servers starves for good.
            log.debug("pool_slot_moved pool={} from_loop={} owned={}", pool, index, owned);
            server.close();
            return;
        }
        Client c = pollWaiter();
        if (c != null) {
            c.assign(server);
            return;
        }
        idle.addLast(server);
        idleCount.incrementAndGet();
    }

    /** The linked client is done with {@code server}. */
    public void release(ServerConnection server) {
        offer(server);
    }

    private ServerConnection takeIdle() {
        ServerConnection s;
        long now = System.nanoTime();
        while ((s = idle.pollLast()) != null) {
            idleCount.decrementAndGet();
            if (mustClose(s, now)) {
                s.close();
                continue;
            }
            if (needsCheck(s, now)) {
                startCheck(s);
                continue;
            }
            return s;
        }
        return null;
    }

    private boolean mustClose(ServerConnection s, long now) {
        long lifetime = pool.settings().serverLifetime().toNanos();
        // the address check closes the gap between a new leader's address being published and the
        // generation bump that follows it: no idle server to the old leader is handed out meanwhile
        return s.closeNeeded() || s.midFrame() || s.generation() != pool.generation()
                || (s.address() != pool.address() && !s.address().equals(pool.address()))
                || (lifetime > 0 && now - s.createdNanos() > lifetime);
    }

    private boolean needsCheck(ServerConnection s, long now) {
        long delay = pool.settings().serverCheckDelay().toNanos();
        return pool.settings().serverCheckQuery() != null && now - s.lastCheckedNanos() > delay;
    }

    private void startCheck(ServerConnection s) {
        checking++;
        s.setTesting(true);
        s.runInternal(pool.settings().serverCheckQuery(), (server, error) -> {
            checking--;
            server.setTesting(false);
            if (error != null || server.txStatus() != 'I') {
                log.info("server_check_failed pool={} server={} error=\"{}\"", pool, server, error);
                server.close();
                fill();
            } else {
                server.markChecked();
                offer(server);
            }
        });
    }

    // ---- opening and closing servers ----

    /** Opens servers for queued clients while the pool has slots. */
    void fill() {
        if (waiters.isEmpty() || pool.paused() || pool.waitingForTarget()) {
            return;
        }
        if (pool.loginFailing()) {
            if (connecting == 0) {
                failWaitersWhileLoginFails(); // only when no live server could serve them later
            }
            return;
        }
        boolean reserve = waitedLongerThan(pool.settings().reservePoolTimeout().toNanos(), true);
        // a new leader not yet proven: one login first (it is the primary check), the rest once it passes
        // a server refusing logins (57P03) likewise gets one probe per retry, not a login per waiter
        int probing = (pool.databaseConfig().isPatroni() && !pool.targetConfirmed()) || pool.backingOff() ? 1
                : Integer.MAX_VALUE;
        while (waiters.size() > connecting + checking && connecting < probing && !holdsShareWhileOthersWait()
                && pool.tryReserveSlot(reserve)) {
            open();
        }
    }

    /**
     * This loop holds its share of the pool while other loops' clients wait: the rest of the slots are
     * theirs. Without this, a loop that took every slot closes each server it gets back to move a slot
     * (see {@link #offer}) and then takes that very slot again at once: a livelock of logins.
     */
    private boolean holdsShareWhileOthersWait() {
        return owned >= fairShare() && pool.waitingCounter().get() > waiters.size();
    }

    private void open() {
        connecting++;
        owned++;
        ServerConnection s = ServerConnection.connect(bootstrap, this, pool.address(), pool.credentials(),
                pool.databaseConfig().dbname(), pool.generation(), maxPacketSize,
                Math.max(1, pool.settings().serverConnectTimeout().toMillis()), pool.serverTls());
        servers.add(s);
        channels.add(s.channel());
    }

    /**
     * Another loop's clients have waited a while with every slot taken: close this loop's least recently
     * used idle server so the slot moves there. Costs them a new server login, so it is done only when
     * the imbalance lasts (see {@link #janitor}), never on the hot path.
     */
    void shedIdleForOthers() {
        if (waiters.isEmpty()) {
            ServerConnection s = idle.pollFirst();
            if (s != null) {
                idleCount.decrementAndGet();
                log.debug("pool_slot_moved pool={} from_loop={}", pool, index);
                s.close();
            }
        }
    }

    void failWaitersWhileLoginFails() {
        if (pool.refusingClients()) {
            refuseWaiters(pool.loginErrorState(), loginFailingMessage());
        }
    }

    /** Every queued client is refused with this error. */
    void refuseWaiters(String sqlState, String message) {
        List<Client> failed = new ArrayList<>(waiters);
        waiters.clear();
        waiterCount.addAndGet(-failed.size());
        pool.waitingCounter().addAndGet(-failed.size());
        for (Client c : failed) {
            c.refuse(sqlState, message);
        }
    }

    /** A drained leader's servers, still running transactions, tell their client why if PostgreSQL stops. */
    void explainOldServersLost(String reason) {
        for (ServerConnection s : servers) {
            if (s.generation() != pool.generation()) {
                s.explainLoss(reason);
            }
        }
    }

    private String loginFailingMessage() {
        return "server login has been failing for pool " + pool + ", try again later (server_login_retry): "
                + pool.loginError();
    }

    @Override
    public void loginSucceeded(ServerConnection server) {
        pool.liveCounter().incrementAndGet();
        if (!pool.databaseConfig().isPatroni() || server.generation() != pool.generation()) {
            connecting--;
            loggedIn(server);
            return;
        }
        // a new leader is used only once it proves to be a primary; until then its probe still counts as
        // connecting, so no other login is opened beside it
        PromotionProbe.start(server, pool, loop, this::probed);
    }

    private void probed(ServerConnection server, boolean primary) {
        connecting--;
        if (primary) {
            pool.targetUsable();
            pool.confirmTarget(); // now every loop may open the rest of its servers
            loggedIn(server);
        } else {
            server.close(); // closed() opens another probe once the retry time has come
            fill();
        }
    }

    private void loggedIn(ServerConnection server) {
        pool.loginSucceeded(server.loginParams());
        offer(server);
    }

    @Override
    public void loginFailed(ServerConnection server, String sqlState, String message) {
        servers.remove(server);
        connecting--;
        owned--;
        pool.releaseSlot(this);
        if (server.generation() != pool.generation()) {
            fill(); // a login to a server that is no longer the target says nothing about the new one
            return;
        }
        pool.loginFailed(sqlState, message);
        failWaitersWhileLoginFails();
    }

    @Override
    public void cancelsEnded(ServerConnection server) {
        offer(server);
    }

    @Override
    public void closed(ServerConnection server) {
        servers.remove(server);
        owned--;
        pool.liveCounter().decrementAndGet();
        if (idle.remove(server)) {
            idleCount.decrementAndGet();
        }
        pool.releaseSlot(this);
        fill();
    }

    /** Periodic upkeep on this loop: wait timeouts, the reserve pool, idle timeouts, min_pool_size. */
    void janitor(long now) {
        boolean holding = pool.holding();
        boolean draining = holding && pool.db().cluster() != null && pool.db().cluster().draining();
        long waitTimeout = pool.paused() ? 0 : draining ? pool.settings().switchoverHoldTimeout().toNanos()
                : holding ? pool.settings().failoverHoldTimeout().toNanos() : pool.settings().queryWaitTimeout().toNanos();
        while (waitTimeout > 0 && !waiters.isEmpty() && now - waiters.peekFirst().waitStartNanos() > waitTimeout) {
            Client c = pollWaiter();
            if (draining) {
                c.refuse(SqlState.CONNECTION_FAILURE, "switchover_hold_timeout: database " + pool.database()
                        + " (Patroni scope " + pool.databaseConfig().patroniScope() + ") was being switched over for "
                        + pool.settings().switchoverHoldTimeout().toSeconds() + " s without a new leader");
            } else if (holding) {
                c.refuse(SqlState.CONNECTION_FAILURE, "failover_hold_timeout: database " + pool.database()
                        + " had no usable primary for " + pool.settings().failoverHoldTimeout().toSeconds() + " s: "
                        + pool.holdReason());
            } else {
                c.refuse(SqlState.CONNECTION_FAILURE, "query_wait_timeout: no server connection became free within "
                        + pool.settings().queryWaitTimeout().toSeconds() + " s for pool " + pool + " (pool_size "
                        + pool.databaseConfig().poolSize() + ")");
            }
        }
        if (!waiters.isEmpty()) {
            fill();
            if (waiters.size() > connecting + checking && waitedLongerThan(SLOT_MOVE_AFTER_NANOS, false)) {
                pool.requestSlot(this);
            }
        }
        long idleTimeout = pool.settings().serverIdleTimeout().toNanos();
        long lifetime = pool.settings().serverLifetime().toNanos();
        int min = minShare();
        for (var it = idle.iterator(); it.hasNext(); ) {
            ServerConnection s = it.next();
            boolean expired = lifetime > 0 && now - s.createdNanos() > lifetime;
            boolean idleTooLong = idleTimeout > 0 && now - s.idleSinceNanos() > idleTimeout && idle.size() > min;
            if (expired || idleTooLong || s.closeNeeded() || s.generation() != pool.generation()) {
                it.remove();
                idleCount.decrementAndGet();
                s.close();
            }
        }
        int total = pool.databaseConfig().minPoolSize();
        while (!pool.loginFailing() && !pool.paused() && !pool.waitingForTarget() && pool.serverCount() < total && idle.size() + connecting < min && pool.tryReserveSlot(false)) {
            open();
        }
    }

    /** This loop's part of pool_size when every loop wants servers. */
    private int fairShare() {
        int n = pool.shards().length;
        return (pool.databaseConfig().poolSize() + n - 1) / n;
    }

    /** This loop's part of min_pool_size. */
    private int minShare() {
        int min = pool.databaseConfig().minPoolSize();
        int n = pool.shards().length;
        return min / n + (index < min % n ? 1 : 0);
    }

    private boolean waitedLongerThan(long nanos, boolean forReserve) {
        Client first = waiters.peekFirst();
        return first != null && (!forReserve || pool.databaseConfig().reservePoolSize() > 0)
                && System.nanoTime() - first.waitStartNanos() > nanos;
    }

    boolean hasWaiters() {
        return waiterCount.get() > 0;
    }

    int idleCount() {
        return idleCount.get();
    }

    /**
     * A RECONNECT, RELOAD or new leader made this loop's servers stale: idle ones close now, active ones
     * when released, or now too when {@code fence} (the old leader must get nothing more); then waiting
     * clients get servers of the new generation.
     */
    void retire(boolean fence) {
        closeOldGeneration();
        for (ServerConnection s : new ArrayList<>(servers)) {
            if (s.generation() != pool.generation() && s.state() == ServerConnection.State.LOGIN) {
                s.close(); // still logging in to the old target: of no use, and it holds up the probe login
            }
        }
        if (fence) {
            for (ServerConnection s : new ArrayList<>(servers)) {
                if (s.generation() != pool.generation() && s.state() != ServerConnection.State.CLOSED) {
                    log.info("server_fenced pool={} server={}", pool, s);
                    s.fence("database " + pool.database() + ": its Patroni leader changed while this transaction "
                            + "ran on the old one; the connection to the old leader was closed");
                }
            }
        }
        serveWaiters();
    }

    /** Closes idle servers a RECONNECT, RELOAD or new leader made stale. */
    void closeOldGeneration() {
        for (var it = idle.iterator(); it.hasNext(); ) {
            ServerConnection s = it.next();
            if (s.generation() != pool.generation()) {
                it.remove();
                idleCount.decrementAndGet();
                s.close();
            }
        }
    }

    /** Closes every idle server (shutdown, PAUSE, KILL). */
    public void closeIdle() {
        ServerConnection s;
        while ((s = idle.pollFirst()) != null) {
            idleCount.decrementAndGet();
            s.close();
        }
    }
}
