package io.turnout.proxy.pool;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.group.ChannelGroup;
import io.turnout.proxy.server.ParamSet;
import io.turnout.proxy.server.ServerConnection;
import io.turnout.proxy.server.ServerOwner;
import io.turnout.proxy.server.ServerRole;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The servers of one pool shard through their life: opened, logged in (and proven a primary on a new
 * leader), idle, checked, retired when stale, closed. Owns them as their {@link ServerOwner}; a server that
 * is free again goes to {@link PoolShard#offer}. Touched only on the shard's loop; other loops read the idle
 * count.
 */
final class ShardServers implements ServerOwner {
    private static final Logger log = LoggerFactory.getLogger(ShardServers.class);

    private final PoolShard shard;
    private final Pool pool;
    private final Bootstrap bootstrap;
    private final ChannelGroup channels;
    private final int maxPacketSize;
    /** Most recently used last: taking from the tail keeps warm connections busy and lets cold ones age out. */
    private final ArrayDeque<ServerConnection> idle = new ArrayDeque<>();
    private final AtomicInteger idleCount = new AtomicInteger();
    /** Every server of this loop that is not closed yet, whatever its state (fencing closes them at once). */
    private final LinkedHashSet<ServerConnection> all = new LinkedHashSet<>();
    /** Logged in to a new leader still in recovery: its probe and its spares, all counted as connecting. */
    private final PromotionSpares spares = new PromotionSpares();
    /** Logging in, or waiting for a new leader to prove it is a primary. */
    int connecting;
    /** Running server_check_query. */
    int checking;
    /** Servers of this loop: logging in, idle, checking or linked. */
    int owned;

    ShardServers(PoolShard shard, Pool pool, Bootstrap bootstrap, ChannelGroup channels, int maxPacketSize) {
        this.shard = shard;
        this.pool = pool;
        this.bootstrap = bootstrap;
        this.channels = channels;
        this.maxPacketSize = maxPacketSize;
    }

    Pool pool() {
        return pool;
    }

    PoolShard shard() {
        return shard;
    }

    /** Servers handed out to clients (linked, or being set up or given back for them). */
    int busy() {
        return owned - idle.size() - connecting - checking;
    }

    /** Opens a server to the pool's target; the caller holds a slot for it. */
    void open() {
        connecting++;
        owned++;
        ServerConnection s = ServerConnection.connect(bootstrap, this, pool.address(), pool.credentials(),
                pool.databaseConfig().dbname(), pool.generation(), maxPacketSize,
                Math.max(1, pool.settings().serverConnectTimeout().toMillis()), pool.serverTls());
        all.add(s);
        channels.add(s.channel());
    }

    // ---- idle servers ----

    /** The most recently used idle server fit to hand out, or null; unfit ones are closed or sent to their check. */
    ServerConnection takeIdle() {
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

    void park(ServerConnection s) {
        idle.addLast(s);
        idleCount.incrementAndGet();
    }

    /** Closes the least recently used idle server, if any (its slot moves to another loop). */
    boolean closeOneIdle() {
        ServerConnection s = idle.pollFirst();
        if (s == null) {
            return false;
        }
        idleCount.decrementAndGet();
        s.close();
        return true;
    }

    /** Closes every idle server (shutdown, PAUSE, KILL). */
    void closeIdle() {
        ServerConnection s;
        while ((s = idle.pollFirst()) != null) {
            idleCount.decrementAndGet();
            s.close();
        }
    }

    /** Idle upkeep: closes idle servers past server_lifetime, stale ones, and beyond {@code min} those idle too long. */
    void closeExpiredIdle(long now, int min) {
        long idleTimeout = pool.settings().serverIdleTimeout().toNanos();
        long lifetime = pool.settings().serverLifetime().toNanos();
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
    }

    int idleSize() {
        return idle.size();
    }

    /** Idle servers; safe on any thread. */
    int idleCount() {
        return idleCount.get();
    }

    boolean mustClose(ServerConnection s, long now) {
        long lifetime = pool.settings().serverLifetime().toNanos();
        // the address check closes the gap between a new leader's address being published and the
        // generation bump that follows it: no idle server to the old leader is handed out meanwhile
        return s.closeNeeded() || s.midFrame() || s.generation() != pool.generation()
                || (s.address() != pool.address() && !s.address().equals(pool.address()))
                || (lifetime > 0 && now - s.createdNanos() > lifetime);
    }

    private boolean needsCheck(ServerConnection s, long now) {
        long delay = pool.settings().serverCheckDelay().toNanos();
        return (pool.settings().serverCheckQuery() != null || pool.member() != null) && now - s.lastCheckedNanos() > delay;
    }

    /** A member pool of a static host list: a failed login takes the host out of the route (a probe brings it back). */
    private boolean staticHost() {
        return pool.member() != null && !pool.databaseConfig().isPatroni();
    }

    /**
     * A member pool's check (a static host or a Patroni replica) asks the role instead of server_check_query: a host
     * promoted since the login must not serve reads as a standby, whatever the DCS says yet.
     */
    private void startCheck(ServerConnection s) {
        checking++;
        s.setTesting(true);
        if (pool.member() != null) {
            ServerRole.ask(s, (server, standby, evidence) -> checked(server,
                    pool.top().members().checked(pool, server, standby, evidence) ? null : evidence));
            return;
        }
        s.runInternal(pool.settings().serverCheckQuery(), (server, error) ->
                checked(server, error != null || server.txStatus() != 'I' ? String.valueOf(error) : null));
    }

    /** A check ended: the server serves again, or is closed ({@code failure} says why). */
    private void checked(ServerConnection server, String failure) {
        checking--;
        server.setTesting(false);
        if (failure != null) {
            log.info("server_check_failed pool={} server={} error=\"{}\"", pool, server, failure);
            server.close();
            shard.fill();
        } else {
            server.markChecked();
            shard.offer(server);
        }
    }

    // ---- stale generations ----

    /**
     * A RECONNECT, RELOAD or new leader made this loop's servers stale: idle ones close now, those still
     * logging in to the old target too, and linked ones as well when {@code fence} (the old leader must get
     * nothing more); the rest close when released.
     */
    void retire(boolean fence) {
        closeOldGeneration();
        spares.dropStale(pool.generation(), this::dropSpare);
        for (ServerConnection s : new ArrayList<>(all)) {
            if (s.generation() != pool.generation() && s.state() == ServerConnection.State.LOGIN) {
                s.close(); // still logging in to the old target: of no use, and it holds up the probe login
            }
        }
        if (fence) {
            for (ServerConnection s : new ArrayList<>(all)) {
                if (s.generation() != pool.generation() && s.state() != ServerConnection.State.CLOSED) {
                    log.info("server_fenced pool={} server={}", pool, s);
                    s.fence("database " + pool.database() + ": its Patroni leader changed while this transaction "
                            + "ran on the old one; the connection to the old leader was closed");
                }
            }
        }
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

    /** A drained leader's servers, still running transactions, tell their client why if PostgreSQL stops. */
    void explainOldServersLost(String reason) {
        for (ServerConnection s : all) {
            if (s.generation() != pool.generation()) {
                s.explainLoss(reason);
            }
        }
    }

    // ---- what the servers tell their owner ----

    @Override
    public void loginSucceeded(ServerConnection server) {
        pool.liveCounter().incrementAndGet();
        if ((!pool.databaseConfig().isPatroni() && pool.member() == null) || server.generation() != pool.generation()) {
            connecting--;
            loggedIn(server);
            return;
        }
        if (pool.member() != null) {
            // every login: a standby can be promoted any time, and a static host is whatever it says it is
            ServerRole.check(server, (srv, standby, evidence) ->
                    probed(srv, pool.top().members().checked(pool, srv, standby, evidence)));
            return;
        }
        if (pool.targetConfirmed()) {
            connecting--; // this generation's leader proved a primary already: the same PostgreSQL, no question
            loggedIn(server);
            return;
        }
        // a new leader is used only once it proves to be a primary: one server of the loop polls it, the others
        // logged in meanwhile wait as spares; all still count as connecting
        if (spares.park(server)) {
            setUpAhead(server);
        } else {
            spares.probing(server);
            PromotionProbe.start(server, pool, shard.loop(), this::probed);
        }
    }

    private void probed(ServerConnection server, boolean primary) {
        connecting--;
        ServerConnection next = spares.probeEnded(server, primary, pool.generation(), this::dropSpare);
        if (primary) {
            pool.targetUsable();
            pool.confirmTarget(server.generation()); // every loop serves with its spares, opens the rest
            loggedIn(server);
        } else {
            server.close(); // closed() opens another probe once the retry time has come
            if (next != null) {
                spares.probing(next); // already counted as connecting
                PromotionProbe.start(next, pool, shard.loop(), this::probed);
            }
            shard.fill();
        }
    }

    /** The leader proved a primary (on any loop): this loop's spares are ready to serve. */
    void releaseSpares() {
        spares.release(this::spareServes);
    }

    private void spareServes(ServerConnection s) {
        connecting--;
        loggedIn(s);
    }

    /**
     * A spare is put in the parameter state of the longest-waiting client meanwhile (application_name, DateStyle...):
     * the transaction that gets it on the just-promoted primary saves that round trip, and its cold start.
     */
    private void setUpAhead(ServerConnection s) {
        ParamSet p = shard.waiterParams();
        String setup = p == null ? null : s.setupFor(p);
        if (setup != null) {
            s.runInternal(setup, this::setUp);
        }
    }

    /** A spare's setup ended: it serves if the leader proved a primary meanwhile, or probes if its loop has none. */
    private void setUp(ServerConnection s, io.turnout.protocol.ServerError error) {
        if (error != null) {
            s.forgetSetup();
        }
        if (s.state() == ServerConnection.State.CLOSED) {
            return; // closed() takes it off the spares
        }
        if (pool.targetConfirmed()) {
            if (spares.lost(s)) {
                spareServes(s);
            }
        } else if (!spares.hasProbe() && spares.lost(s)) {
            spares.probing(s); // its loop's probe failed while this was set up
            PromotionProbe.start(s, pool, shard.loop(), this::probed);
        }
    }

    private void dropSpare(ServerConnection s) {
        connecting--;
        s.close();
    }

    private void loggedIn(ServerConnection server) {
        pool.loginSucceeded(server.loginParams());
        shard.offer(server);
    }

    @Override
    public void loginFailed(ServerConnection server, String sqlState, String message) {
        all.remove(server);
        connecting--;
        owned--;
        pool.slots().release(shard);
        if (server.generation() != pool.generation()) {
            shard.fill(); // a login to a server that is no longer the target says nothing about the new one
            return;
        }
        if (staticHost() && pool.top().members().unreachable(pool.member(), message)) {
            return; // out of the route until a probe gets in: its waiters went to the others, or are held
        }
        pool.loginFailed(sqlState, message);
        shard.failWaitersWhileLoginFails();
    }

    @Override
    public void closed(ServerConnection server) {
        all.remove(server);
        if (spares.lost(server)) {
            connecting--;
        }
        owned--;
        pool.liveCounter().decrementAndGet();
        if (idle.remove(server)) {
            idleCount.decrementAndGet();
        }
        pool.slots().release(shard);
        shard.fill();
    }

    @Override
    public void cancelsEnded(ServerConnection server) {
        shard.offer(server);
    }
}
