package io.turnout.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.SqlState;
import io.turnout.proxy.pool.Pool;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The results of one client's login ({@link ClientLogin} decides them): the client counts it takes, its cancel
 * key, its pool or the admin console, and the welcome (ParameterStatus, BackendKeyData, ReadyForQuery);
 * undone when the client leaves.
 */
final class ClientWelcome {
    private static final Logger log = LoggerFactory.getLogger(ClientWelcome.class);

    private final ClientHandler client;
    private final Clients clients;
    private final ServerLink link;
    private final Channel channel;
    private String user;
    private String database;
    private int cancelKey;
    private int cancelSecret;
    /** Counted against max_client_conn. */
    private boolean counted;
    /** Counted against max_db_client_connections and max_user_client_connections (in this pool's database). */
    private Pool admitted;

    ClientWelcome(ClientHandler client, Clients clients, ServerLink link) {
        this.client = client;
        this.clients = clients;
        this.link = link;
        this.channel = client.channel();
    }

    /** Counts this client against max_client_conn; false when the limit is reached. */
    boolean countClient() {
        if (!clients.admit(clients.config().pool().maxClientConn())) {
            return false;
        }
        counted = true;
        return true;
    }

    /** Authentication passed: finish the welcome from the pool's cache, or from a first server login. */
    void authenticated(String user, String database, Pool pool, Map<String, String> startup) {
        this.user = user;
        this.database = database;
        String refused = clients.counts().admit(clients.config().pool().clientLimits(), pool.db().clientCounter(), user);
        if (refused != null) {
            client.fatal(SqlState.PROTOCOL_VIOLATION, refused); // PgBouncer's code and words for these two limits
            return;
        }
        admitted = pool;
        link.join(pool, startup);
        client.router().loggedIn(null);
        registerCancelKey();
        client.timers().loginDone();
        if (pool.welcome() != null) {
            link.idle();
            send();
            channel.flush();
            client.deadlines().becameIdle();
        } else {
            // No server of this pool has logged in yet: the welcome needs its parameters (and proves the
            // backend is reachable before the client believes it is connected).
            link.welcomeWhenLinked();
        }
    }

    /** Authentication passed for the admin console: no pool, the console answers every query. */
    void authenticatedAdmin(String user, String database, boolean fullAccess) {
        this.user = user;
        this.database = database;
        client.timers().loginDone();
        registerCancelKey();
        link.idle();
        ConsoleSession console = clients.consoles().open(channel, user, fullAccess, client::fatal);
        client.router().loggedIn(console);
        console.welcome(cancelKey, cancelSecret);
    }

    private void registerCancelKey() {
        int[] key = clients.cancels().register(client);
        cancelKey = key[0];
        cancelSecret = key[1];
    }

    /** The pool's server parameters (the client's own where it set them), the cancel key, ReadyForQuery. */
    void send() {
        ByteBuf out = channel.alloc().buffer(512);
        for (Map.Entry<String, String> e : link.pool().welcome().entrySet()) {
            String own = link.params().get(e.getKey().toLowerCase(Locale.ROOT));
            PgWrite.parameterStatus(out, e.getKey(), own != null ? own : e.getValue());
        }
        PgWrite.backendKeyData(out, cancelKey, cancelSecret);
        PgWrite.readyForQuery(out, (byte) 'I');
        channel.write(out, channel.voidPromise());
        log.debug("client_login_ok client={}", client);
    }

    boolean cancelSecretIs(int secret) {
        return secret == cancelSecret;
    }

    /** The client left: its cancel key and the counts it took are given back. */
    void leave() {
        if (cancelKey != 0) {
            clients.cancels().unregister(cancelKey, client);
        }
        if (counted) {
            clients.count().decrementAndGet();
        }
        if (admitted != null) {
            clients.counts().release(admitted.db().clientCounter(), user);
        }
    }

    String user() {
        return user;
    }

    String database() {
        return database;
    }
}
