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
    private final TurnoutConfig config;
    private final Transports transports;
    private final Bootstrap bootstrap;
    private final ChannelGroup channels;
    private final ConcurrentHashMap<String, Pool> pools = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicInteger> databaseServers = new ConcurrentHashMap<>();
    /** SCRAM keys recovered from clients' logins, per user: lets servers log in with a verifier-only secret. */
    private final ConcurrentHashMap<String, byte[][]> scramKeys = new ConcurrentHashMap<>();
    private final PreparedStatements prepared = new PreparedStatements();
    /** Secrets auth_query returned for users who then proved them. */
    private final ConcurrentHashMap<String, String> lookedUp = new ConcurrentHashMap<>();

    public Pools(TurnoutConfig config, Transports transports, ChannelGroup channels) {
        this.config = config;
        this.transports = transports;
        this.channels = channels;
        this.bootstrap = new Bootstrap()
                .channel(transports.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
                        (int) Math.min(Integer.MAX_VALUE, Math.max(1, config.pool().serverConnectTimeout().toMillis())));
    }

    /** The pool a client of {@code db} logged in as {@code clientUser} uses. */
    public Pool pool(DatabaseConfig db, String clientUser) {
        String serverUser = db.user() != null ? db.user() : clientUser;
        return pools.computeIfAbsent(db.name() + "\u0000" + serverUser, k -> new Pool(db.name(), serverUser, db,
                config.pool(), () -> credentials(db, serverUser),
                databaseServers.computeIfAbsent(db.name(), n -> new AtomicInteger()), transports, bootstrap,
                channels, config.maxPacketSize()));
    }

    /** The pool auth_query runs on: always logs in as {@code authUser}, with its secret from the auth file. */
    public Pool authPool(DatabaseConfig db, String authUser) {
        return pools.computeIfAbsent(db.name() + "\u0000auth\u0000" + authUser, k -> new Pool(db.name(), authUser, db,
                config.pool(), () -> ServerCredentials.of(authUser, authUser.equals(db.user()) && db.password() != null
                        ? db.password() : config.users().get(authUser)),
                databaseServers.computeIfAbsent(db.name(), n -> new AtomicInteger()), transports, bootstrap,
                channels, config.maxPacketSize()));
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

    /** Runs each loop's shard upkeep ten times a second (timeouts are in seconds; slot moves want less). */
    public void startJanitors() {
        for (EventLoop loop : transports.loops()) {
            int index = transports.index(loop);
            loop.scheduleAtFixedRate(() -> {
                long now = System.nanoTime();
                for (Pool p : pools.values()) {
                    p.shards()[index].janitor(now);
                }
            }, 100, 100, TimeUnit.MILLISECONDS);
        }
    }
}
