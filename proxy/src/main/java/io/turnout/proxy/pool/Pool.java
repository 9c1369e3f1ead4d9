package io.turnout.proxy.pool;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoop;
import io.netty.channel.group.ChannelGroup;
import io.turnout.config.DatabaseConfig;
import io.turnout.config.PoolMode;
import io.turnout.config.PoolSettings;
import io.turnout.config.topology.ClusterState;
import io.turnout.proxy.net.Transports;
import io.turnout.proxy.server.ParamSet;
import io.turnout.proxy.server.ServerCredentials;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Server connections for one (database, user), split into one {@link PoolShard} per event loop so that
 * acquire and release never lock. The only cross-thread state is here: slot counters (atomics, in
 * {@link PoolSlots}), the cached welcome parameters and the login-failure window (volatiles).
 */
public final class Pool {
    private final String user;
    private final Database database;
    private final Pools pools;
    private final Supplier<ServerCredentials> credentials;
    private final PoolShard[] shards;
    private final Transports transports;
    private final PoolSlots slots;
    private final AtomicInteger waiting = new AtomicInteger();
    /** Servers that completed login and are not closed yet. */
    private final AtomicInteger live = new AtomicInteger();
    private final Map<ParamSet, ParamSet> interned = new ConcurrentHashMap<>();
    /** Backoff, primary proof and logins ahead of a promotion for the target new servers connect to. */
    private final PoolTarget target = new PoolTarget();
    /** PostgreSQL's cannot_connect_now: starting up, in recovery, shutting down. */
    private static final String CANNOT_CONNECT_NOW = "57P03";
    private volatile Map<String, String> welcome;
    private volatile long loginFailedUntilNanos;
    private final RestartHold restart = new RestartHold();
    private volatile String loginErrorState;
    private volatile String loginError;
    private volatile int generation;
    /** A member pool's (database, user) pool, or null for that pool itself. */
    private final Pool parent;
    /** The standby a member pool's servers connect to; null for the (database, user) pool, the leader path. */
    private final ReadRoutes.Target member;
    /** Reads on replicas: one pool per member target. */
    private final MemberPools members;
    /** Transactions (server assignments) this member pool served. */
    public final java.util.concurrent.atomic.LongAdder memberTransactions = new java.util.concurrent.atomic.LongAdder();
    /** A member pool whose member left the route opens nothing (min_pool_size included) until it is back. */
    private volatile boolean routed = true;

    Pool(Pools pools, Database database, String user, Supplier<ServerCredentials> credentials,
         Transports transports, Bootstrap bootstrap, ChannelGroup channels, int maxPacketSize,
         ShardStats.WaitRecorder waits, Pool parent, ReadRoutes.Target member) {
        this.parent = parent;
        this.member = member;
        this.pools = pools;
        this.database = database;
        this.user = user;
        this.credentials = credentials;
        this.transports = transports;
        this.slots = new PoolSlots(this, database);
        this.members = new MemberPools(this, pools);
        this.shards = new PoolShard[transports.size()];
        for (int i = 0; i < shards.length; i++) {
            shards[i] = new PoolShard(this, transports.loops().get(i), i, bootstrap.clone(transports.loops().get(i)),
                    channels, maxPacketSize, new ShardStats(waits));
        }
    }

    public PoolShard shard(EventLoop loop) {
        return shards[transports.index(loop)];
    }

    PoolShard[] shards() {
        return shards;
    }

    /** The one instance equal to {@code p}, so servers can compare parameter sets by identity. */
    public ParamSet intern(ParamSet p) {
        ParamSet existing = interned.putIfAbsent(p, p);
        if (existing != null) {
            return existing;
        }
        if (interned.size() > 10_000) {
            interned.clear(); // clients with ever-changing parameters: lose identity hits, not memory
        }
        return p;
    }

    /** The pool's server slots and their balance between loops. */
    PoolSlots slots() {
        return slots;
    }

    void loginSucceeded(Map<String, String> params) {
        if (welcome == null) {
            welcome = Map.copyOf(params);
        }
        if (parent != null && parent.welcome == null) {
            parent.welcome = welcome; // a standby's: its clients log in without waiting for a server
        }
        loginFailedUntilNanos = 0;
        restart.ended();
        if (target.backingOff() && !database.config().isPatroni()) {
            // a static server back from recovery (Patroni leaders wait for the primary check): every loop
            // holding clients may open its servers now
            targetUsable();
            for (PoolShard s : shards) {
                if (s.hasWaiters()) {
                    s.loop().execute(s::fill);
                }
            }
        }
    }

    void loginFailed(String sqlState, String message) {
        if (CANNOT_CONNECT_NOW.equals(sqlState) || restart.holds(this, sqlState)) {
            // starting up, in recovery (after a backend crashed), shutting down, or restarting (RestartHold):
            // seconds at most, so hold clients and ask again soon rather than refuse them for server_login_retry
            targetUnusable("the server " + address() + " is not accepting logins yet: " + message, Retry.STARTING);
            return;
        }
        if (database.config().isPatroni() && (sqlState == null || sqlState.startsWith("08")
                || (member == null && database.address() == null))) {
            // a leader that is down or restarting mid-failover: hold clients and retry, never refuse them; with no
            // leader at all, a switchover's candidate refused us ahead of its promotion: its clients are held anyway
            targetUnusable("cannot connect to the " + (member != null ? "standby " + member.name() : "leader") + " "
                    + address() + ": " + message, Retry.UNREACHABLE);
            return;
        }
        loginErrorState = sqlState;
        loginError = message;
        loginFailedUntilNanos = System.nanoTime() + Math.max(1, settings().serverLoginRetry().toNanos());
        for (PoolShard s : shards) {
            if (s.hasWaiters()) {
                s.loop().execute(s::failWaitersWhileLoginFails);
            }
        }
    }

    /** True while the last server login failed less than server_login_retry ago: open no new server. */
    boolean loginFailing() {
        long until = loginFailedUntilNanos;
        return until != 0 && System.nanoTime() - until < 0;
    }

    /**
     * True when clients must be refused at once: logins fail and no logged-in server exists that could
     * serve them after a wait (PgBouncer's fast-fail rule).
     */
    boolean refusingClients() {
        return loginFailing() && live.get() == 0;
    }

    AtomicInteger liveCounter() {
        return live;
    }

    String loginErrorState() {
        return loginErrorState;
    }

    String loginError() {
        return loginError;
    }

    AtomicInteger waitingCounter() {
        return waiting;
    }

    public Map<String, String> welcome() {
        return welcome;
    }

    public String database() {
        return database.name();
    }

    public Database db() {
        return database;
    }

    /** PAUSE (of this database or of everything) or KILL holds new work: clients queue, nothing is assigned. */
    public boolean paused() {
        return database.paused() || pools.allPaused();
    }

    /**
     * Servers opened before now must not take another transaction: idle ones close at once, active ones
     * when their client releases them (RECONNECT, a RELOAD that moved the backend, a new leader).
     */
    public void bumpGeneration(boolean fence) {
        retarget(fence);
        members.all().forEach(m -> m.bumpGeneration(fence));
    }

    /** {@link #bumpGeneration} of the leader path alone: the leader moved, the standbys' servers stay. */
    synchronized void retarget(boolean fence) {
        generation++;
        target.usable(); // the new target is unproven (by generation), and the old one's refusals do not hold it
        onEachLoop(s -> s.retire(fence));
    }

    /** The leader vanished but the target did not move: servers of older generations close at once (fencing). */
    void fenceOldServers() {
        onEachLoop(s -> s.retire(true));
    }

    /**
     * Every queued client fails now, on its loop: held clients at switchover_hold_timeout, and at shutdown the
     * requests of clients that sent Terminate while queued (kept to run on a next server that will not come).
     */
    void refuseWaiters(String sqlState, String message) {
        onEachLoop(s -> s.refuseWaiters(sqlState, message));
    }

    /** Servers of older generations still in use get {@code reason} as their client's error if they die. */
    void onOldServersLost(String reason) {
        onEachLoop(s -> s.explainOldServersLost(reason));
    }

    /**
     * The target cannot be used yet: hold waiters and retry after {@code retry}'s doubling backoff
     * ({@link PoolTarget#unusable}).
     */
    void targetUnusable(String reason, Retry retry) {
        if (parent != null) {
            parent.members().reroute(); // another eligible member can take this one's waiters meanwhile
        }
        long delay = target.unusable(reason, retry);
        for (PoolShard s : shards) {
            if (s.hasWaiters()) {
                s.loop().schedule(s::fill, delay, java.util.concurrent.TimeUnit.NANOSECONDS);
            }
        }
    }

    /**
     * The leader of generation {@code gen} is a hot standby awaiting its promotion: waiters are held, and during a
     * switchover the loops log in the servers they will need now, to run held transactions at once after it.
     */
    void awaitingPromotion(int gen, String reason) {
        targetUnusable(reason, Retry.PROMOTING);
        if (target.standby(gen)) {
            for (PoolShard s : shards) {
                if (s.hasWaiters()) {
                    s.loop().execute(s::fill);
                }
            }
        }
    }

    /**
     * True while servers may log in to a switchover's candidate ahead of its promotion: the leader drains, seconds
     * ahead (a new leader key comes 0.1-0.5 s before Patroni promotes, when logins would land on the promotion).
     */
    boolean loggingInAhead() {
        return member == null && database.address() == null && address() != null && target.awaitingPromotion(generation);
    }

    /** True when a server proved the current target a primary (Patroni databases). */
    boolean targetConfirmed() {
        return target.confirmed(generation);
    }

    /** A server of generation {@code gen} proved a primary: every loop serves with the servers it logged in. */
    void confirmTarget(int gen) {
        if (gen == generation && target.confirm(gen)) {
            onEachLoop(PoolShard::targetConfirmed);
        }
    }

    /** A server of the current target proved usable: no more backoff. */
    void targetUsable() {
        target.usable();
    }

    /** True after a refused login until one succeeds: one login probes the target at a time. */
    boolean backingOff() {
        return target.backingOff();
    }

    /** True while new servers must not be opened: no leader known, or backing off from an unusable one. */
    boolean waitingForTarget() {
        return address() == null || !routed || target.retryPending();
    }

    /** True while clients are held: no Patroni leader or standby to send them to, or a target unusable (57P03). */
    boolean holding() {
        return (database.config().isPatroni() && database.address() == null) || target.backingOff()
                || (member == null && database.readsHeld());
    }

    String holdReason() {
        ReadRoutes.Route route = database.readRoute();
        if (address() == null && route != null && route.holdReason() != null) {
            return route.holdReason();
        }
        if (database.address() == null) {
            ClusterState c = database.cluster();
            return "no leader known for Patroni scope " + database.config().patroniScope()
                    + (c != null && c.lastError() != null ? " (" + c.lastError() + ")" : "");
        }
        String r = target.holdReason();
        return r != null ? r : "waiting for the leader";
    }

    /** After RESUME or a larger pool_size: give waiting clients what is idle and open what is allowed. */
    public void wakeWaiters() {
        onEachLoop(PoolShard::serveWaiters);
        members.all().forEach(Pool::wakeWaiters);
    }

    // ---- reads on replicas (issue 17) ----

    /** The member pools of this (database, user) pool. */
    public MemberPools members() {
        return members;
    }

    /** The (database, user) pool: this one, or a member pool's parent (SHOW POOLS counts servers there). */
    public Pool top() {
        return parent != null ? parent : this;
    }

    /** The standby this member pool serves, or null for a (database, user) pool. */
    public ReadRoutes.Target member() {
        return member;
    }

    void routed(boolean inRoute) {
        routed = inRoute;
    }

    Supplier<ServerCredentials> credentialsSupplier() {
        return credentials;
    }

    public PoolShard[] allShards() {
        return shards.clone();
    }

    public String user() {
        return user;
    }

    public DatabaseConfig databaseConfig() {
        return database.config();
    }

    public PoolSettings settings() {
        return database.settings();
    }

    public PoolMode mode() {
        return database.config().poolMode();
    }

    public int generation() {
        return generation;
    }

    public int serverCount() {
        return slots.count();
    }

    /**
     * Where new servers connect (the static host, the current Patroni leader, or a switchover's candidate ahead
     * of its promotion), or null while held with no server to try.
     */
    public InetSocketAddress address() {
        return member != null ? member.address() : database.leaderTarget();
    }

    ServerCredentials credentials() {
        return credentials.get();
    }

    /** How new servers of this pool start TLS (server_tls_sslmode, per database), or null for plaintext. */
    io.turnout.proxy.server.ServerTls serverTls() {
        return pools.serverTls(database.config().name());
    }

    @Override
    public String toString() {
        // a wildcard database is named by the client
        return io.turnout.proxy.log.LogText.of(database.name() + "/" + user + (member != null ? "@" + member.name() : ""));
    }

    /** Runs {@code work} on every shard, each on its own loop: how the pool's per-loop state is changed. */
    private void onEachLoop(java.util.function.Consumer<PoolShard> work) {
        for (PoolShard s : shards) {
            s.loop().execute(() -> work.accept(s));
        }
    }
}
