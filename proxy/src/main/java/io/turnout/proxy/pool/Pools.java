package io.turnout.proxy.pool;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.group.ChannelGroup;
import io.turnout.config.DatabaseConfig;
import io.turnout.config.TurnoutConfig;
import io.turnout.proxy.net.Transports;
import io.turnout.proxy.server.ServerCredentials;
import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Every pool, created on first use, keyed by (database, server login user); and their janitors. */
public final class Pools {
    private volatile TurnoutConfig config;
    private final Transports transports;
    private final Bootstrap bootstrap;
    private final ChannelGroup channels;
    private final ConcurrentHashMap<String, Pool> pools = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Database> databases = new ConcurrentHashMap<>();
    private volatile boolean allPaused;
    private volatile java.util.function.Consumer<Database> newDatabase = d -> { };
    private volatile java.util.function.Function<String, ShardStats.WaitRecorder> waitRecorders =
            db -> ShardStats.WaitRecorder.NONE;
    /** SCRAM keys recovered from clients' logins, per user: lets servers log in with a verifier-only secret. */
    private final ConcurrentHashMap<String, byte[][]> scramKeys = new ConcurrentHashMap<>();
    private final PreparedStatements prepared = new PreparedStatements();
    /** Secrets auth_query returned for users who then proved them. */
    private final ConcurrentHashMap<String, String> lookedUp = new ConcurrentHashMap<>();

    private volatile java.util.function.Supplier<io.turnout.proxy.tls.TlsContexts> tls = () -> null;

    /** Where the running TLS contexts come from (they change on RELOAD). */
    public void tls(java.util.function.Supplier<io.turnout.proxy.tls.TlsContexts> contexts) {
        this.tls = contexts;
    }

    /** server_tls_sslmode for {@code database}, with the contexts to use; null means plaintext. */
    io.turnout.proxy.server.ServerTls serverTls(String database) {
        io.turnout.proxy.tls.TlsContexts contexts = tls.get();
        return contexts == null ? null : io.turnout.proxy.server.ServerTls.of(contexts, contexts.settings().serverMode(database));
    }

    public Pools(TurnoutConfig config, Transports transports, ChannelGroup channels) {
        this.config = config;
        this.transports = transports;
        this.channels = channels;
        this.bootstrap = new Bootstrap()
                .channel(transports.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
                        (int) Math.min(Integer.MAX_VALUE, Math.max(1, config.pool().serverConnectTimeout().toMillis())));
        io.turnout.proxy.net.TcpOptions.apply(bootstrap, config.network(), transports.kind());
        transports.readFromRing(bootstrap);
    }

    /** The pool a client of {@code db} logged in as {@code clientUser} uses. */
    public Pool pool(DatabaseConfig db, String clientUser) {
        String serverUser = db.user() != null ? db.user() : clientUser;
        Database database = database(db);
        return pools.computeIfAbsent(db.name() + "\u0000" + serverUser, k -> new Pool(this, database, serverUser,
                () -> credentials(database.config(), serverUser), transports, bootstrap, channels,
                config.maxPacketSize(), waitRecorders.apply(db.name()), null, null));
    }

    /** A pool of {@code parent}'s database and user whose servers connect to the standby {@code target}. */
    Pool memberPool(Pool parent, ReadRoutes.Target target) {
        return new Pool(this, parent.db(), parent.user(), parent.credentialsSupplier(), transports, bootstrap,
                channels, config.maxPacketSize(), ShardStats.WaitRecorder.NONE, parent, target);
    }

    /** A bootstrap for new server connections on {@code loop} (a {@link HostProbe}'s). */
    Bootstrap bootstrap(EventLoop loop) {
        return bootstrap.clone(loop);
    }

    /** A server connection outside every pool (a {@link HostProbe}'s): closed with the others at shutdown. */
    void track(io.turnout.proxy.server.ServerConnection s) {
        channels.add(s.channel());
    }

    /** The read route of {@code d} changed: every pool of it follows (see {@link MemberPools#routeChanged}). */
    void routeChanged(Database d) {
        for (Pool p : pools.values()) {
            if (p.db() == d) {
                p.members().routeChanged();
            }
        }
    }

    /** The shared state of database {@code db}, created on first use. */
    public Database database(DatabaseConfig db) {
        Database d = databases.get(db.name());
        if (d != null) {
            return d;
        }
        Database created = new Database(db, config.pool());
        d = databases.putIfAbsent(db.name(), created);
        if (d == null) {
            newDatabase.accept(created); // outside the map's lock: the hook may look at other state
            d = created;
        }
        return d;
    }

    /** Told about each database as it is created (the topology applier gives it its leader). */
    public void onNewDatabase(java.util.function.Consumer<Database> hook) {
        this.newDatabase = hook;
    }

    /** The state of a configured or once-used database, or null. */
    public Database database(String name) {
        return databases.get(name);
    }

    public Collection<Database> databases() {
        return databases.values();
    }

    /** The pool auth_query runs on: always logs in as {@code authUser}, with its secret from the auth file. */
    public Pool authPool(DatabaseConfig db, String authUser) {
        Database database = database(db);
        return pools.computeIfAbsent(db.name() + "\u0000auth\u0000" + authUser, k -> new Pool(this, database, authUser,
                () -> {
                    DatabaseConfig c = database.config();
                    return ServerCredentials.of(authUser, authUser.equals(c.user()) && c.password() != null
                            ? c.password() : config.users().get(authUser));
                }, transports, bootstrap, channels, config.maxPacketSize(), ShardStats.WaitRecorder.NONE, null, null));
    }

    private ServerCredentials credentials(DatabaseConfig db, String serverUser) {
        String secret = db.user() != null && db.password() != null ? db.password() : config.users().get(serverUser);
        if (secret == null) {
            secret = lookedUp.get(serverUser);
        }
        byte[][] keys = scramKeys.get(serverUser);
        return new ServerCredentials(serverUser, secret, keys == null ? null : keys[0], keys == null ? null : keys[1]);
    }

    /** A client authenticated with a secret auth_query found: servers log in as that user with it too. */
    public void rememberLookedUpSecret(String user, String secret) {
        lookedUp.put(user, secret);
    }

    /** A client proved a SCRAM verifier-only secret: keep its keys for server logins as that user. */
    public void rememberScramKeys(String user, byte[] clientKey, byte[] serverKey) {
        scramKeys.put(user, new byte[][] {clientKey, serverKey});
    }

    /** The pooler-wide names of clients' named statements. */
    public PreparedStatements prepared() {
        return prepared;
    }

    public Collection<Pool> all() {
        return pools.values();
    }

    /**
     * After every channel closed, before the loops stop: the pools' queues are emptied, freeing the requests
     * clients that sent Terminate while queued left to run on the next server.
     */
    public void shutdown() {
        pools.values().forEach(p -> p.refuseWaiters(io.turnout.protocol.SqlState.ADMIN_SHUTDOWN,
                "Turnout is shutting down"));
    }

    /** Where each pool of database {@code db} records its clients' waits (set once, before traffic). */
    public void waitRecorders(java.util.function.Function<String, ShardStats.WaitRecorder> recorders) {
        this.waitRecorders = recorders;
    }

    /** Global PAUSE (or SHUTDOWN WAIT_FOR_SERVERS): every pool holds new work. */
    public boolean allPaused() {
        return allPaused;
    }

    public void setAllPaused(boolean paused) {
        this.allPaused = paused;
        if (!paused) {
            pools.values().forEach(Pool::wakeWaiters);
        }
    }

    public TurnoutConfig config() {
        return config;
    }

    /**
     * Applies a reloaded configuration without dropping a client: databases whose backend changed get a
     * new generation (their servers close as they come back), new databases become connectable, removed
     * ones refuse new clients, and waiting clients get servers a larger pool_size now allows.
     */
    public void reconfigure(TurnoutConfig next) {
        this.config = next;
        for (DatabaseConfig db : next.databases().values()) {
            Database existing = databases.get(db.name());
            if (existing == null) {
                continue; // created on its first client, from the new config
            }
            DatabaseConfig before = existing.config();
            if (existing.update(db, next.pool())) {
                routeChanged(existing); // a new static host list: what was learnt of the old one is gone
            }
            for (Pool p : pools.values()) {
                if (p.db() == existing) {
                    if (!Database.sameBackend(before, db)) {
                        p.bumpGeneration(false);
                    }
                    p.wakeWaiters();
                }
            }
        }
        for (Database d : databases.values()) {
            if (!next.databases().containsKey(d.name())) {
                DatabaseConfig fromTemplate = next.database(d.name());
                if (fromTemplate != null) {
                    if (d.update(fromTemplate, next.pool())) { // a wildcard database keeps following its template
                        routeChanged(d);
                    }
                } else {
                    d.markRemoved();
                }
            }
        }
    }

    /** A loop for the few timers that belong to no pool (a switchover's hold timeout). */
    public java.util.concurrent.ScheduledExecutorService timerLoop() {
        return transports.loops().get(0);
    }

    /**
     * Runs each loop's shard upkeep ten times a second (timeouts are in seconds; slot moves want less), and the
     * first loop's probes of static hosts out of their route.
     */
    public void startJanitors() {
        for (EventLoop loop : transports.loops()) {
            int index = transports.index(loop);
            loop.scheduleAtFixedRate(() -> {
                long now = System.nanoTime();
                for (Pool p : pools.values()) {
                    p.shards()[index].janitor(now);
                    for (Pool m : p.members().all()) {
                        m.shards()[index].janitor(now);
                    }
                }
                if (index == 0) {
                    probeStaticHosts(loop, now);
                }
            }, 100, 100, TimeUnit.MILLISECONDS);
        }
    }

    private void probeStaticHosts(EventLoop loop, long now) {
        for (Database d : databases.values()) {
            if (d.staticHosts() != null && !d.removed()) {
                Pool any = null;
                for (Pool p : pools.values()) {
                    if (p.db() == d) {
                        any = p;
                        break;
                    }
                }
                HostProbe.probeDue(this, d, any, loop, now);
            }
        }
    }
}
