package io.turnout.proxy.pool;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoop;
import io.netty.channel.group.ChannelGroup;
import io.turnout.config.DatabaseConfig;
import io.turnout.config.PoolMode;
import io.turnout.config.PoolSettings;
import io.turnout.proxy.net.Transports;
import io.turnout.proxy.server.ServerCredentials;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Server connections for one (database, user), split into one {@link PoolShard} per event loop so that
 * acquire and release never lock. The only cross-thread state is here: slot counters (atomics), the cached
 * welcome parameters and the login-failure window (volatiles).
 */
public final class Pool {
    private final String database;
    private final String user;
    private final DatabaseConfig db;
    private final PoolSettings settings;
    private final Supplier<ServerCredentials> credentials;
    private final AtomicInteger databaseServers;
    private final PoolShard[] shards;
    private final Transports transports;
    private final AtomicInteger servers = new AtomicInteger();
    private final AtomicInteger waiting = new AtomicInteger();
    /** Servers that completed login and are not closed yet. */
    private final AtomicInteger live = new AtomicInteger();
    private final Map<ParamSet, ParamSet> interned = new ConcurrentHashMap<>();
    private final InetSocketAddress address;
    private volatile Map<String, String> welcome;
    private volatile long loginFailedUntilNanos;
    private volatile String loginErrorState;
    private volatile String loginError;
    private volatile int generation;

    Pool(String database, String user, DatabaseConfig db, PoolSettings settings, Supplier<ServerCredentials> credentials,
         AtomicInteger databaseServers, Transports transports, Bootstrap bootstrap, ChannelGroup channels,
         int maxPacketSize) {
        this.database = database;
        this.user = user;
        this.db = db;
        this.settings = settings;
        this.credentials = credentials;
        this.databaseServers = databaseServers;
        this.transports = transports;
        this.address = InetSocketAddress.createUnresolved(db.host(), db.port());
        this.shards = new PoolShard[transports.size()];
        for (int i = 0; i < shards.length; i++) {
            shards[i] = new PoolShard(this, transports.loops().get(i), i, bootstrap.clone(transports.loops().get(i)),
                    channels, maxPacketSize);
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

    /** Takes a server slot if the pool (plus the reserve, when allowed) and the database limit have room. */
    boolean tryReserveSlot(boolean useReserve) {
        int limit = db.poolSize() + (useReserve ? db.reservePoolSize() : 0);
        int maxDb = db.maxDbConnections();
        while (true) {
            int n = servers.get();
            if (n >= limit) {
                return false;
            }
            if (maxDb > 0 && databaseServers.incrementAndGet() > maxDb) {
                databaseServers.decrementAndGet();
                return false;
            }
            if (servers.compareAndSet(n, n + 1)) {
                return true;
            }
            if (maxDb > 0) {
                databaseServers.decrementAndGet();
            }
        }
    }

    /** Gives a slot back and lets shards whose clients wait use it (one hop each, only when they wait). */
    void releaseSlot(PoolShard from) {
        servers.decrementAndGet();
        if (db.maxDbConnections() > 0) {
            databaseServers.decrementAndGet();
        }
        if (waiting.get() > 0) {
            for (PoolShard s : shards) {
                if (s != from && s.hasWaiters()) {
                    s.loop().execute(s::fill);
                }
            }
        }
    }

    /** Another shard's clients wait while every slot is taken: ask shards holding idle servers to free one. */
    void requestSlot(PoolShard from) {
        for (PoolShard s : shards) {
            if (s != from && s.idleCount() > 0) {
                s.loop().execute(s::shedIdleForOthers);
                return;
            }
        }
    }

    void loginSucceeded(Map<String, String> params) {
        if (welcome == null) {
            welcome = Map.copyOf(params);
        }
        loginFailedUntilNanos = 0;
    }

    void loginFailed(String sqlState, String message) {
        loginErrorState = sqlState;
        loginError = message;
        loginFailedUntilNanos = System.nanoTime() + Math.max(1, settings.serverLoginRetry().toNanos());
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
        return database;
    }

    public String user() {
        return user;
    }

    public DatabaseConfig databaseConfig() {
        return db;
    }

    public PoolSettings settings() {
        return settings;
    }

    public PoolMode mode() {
        return db.poolMode();
    }

    public int generation() {
        return generation;
    }

    public int serverCount() {
        return servers.get();
    }

    InetSocketAddress address() {
        return address;
    }

    ServerCredentials credentials() {
        return credentials.get();
    }

    @Override
    public String toString() {
        return database + "/" + user;
    }
}
