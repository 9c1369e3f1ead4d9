package io.turnout.proxy.client;

import io.netty.channel.Channel;
import io.turnout.config.PoolMode;
import io.turnout.protocol.PgFrameScanner;
import io.turnout.protocol.SqlState;
import io.turnout.proxy.log.LogText;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.PoolShard;
import io.turnout.proxy.pool.ShardStats;
import io.turnout.proxy.server.ParamSet;
import io.turnout.proxy.server.ServerConnection;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's tie to a server of its pool: asks the pool shard for one, sets it up for the client's
 * parameters, links it (what the server says then goes to {@link ServerReplies}), gives it back when the
 * client holds nothing on it, and lets it go when the client leaves.
 *
 * <p>Transaction pooling hinges on counting: each Query, Sync and FunctionCall the client sends earns
 * exactly one ReadyForQuery. The server goes back to the pool only at ReadyForQuery 'I' when none is
 * outstanding, no extended-protocol message waits for its Sync, and no frame is half forwarded.
 */
final class ServerLink implements PoolShard.Client {
    private static final Logger log = LoggerFactory.getLogger(ServerLink.class);

    private final ClientHandler client;
    private final Clients clients;
    private final Channel channel;
    private final PgFrameScanner scanner;
    private final RequestClock clock;
    private final OutstandingRequests outstanding;
    private final ClientTimers timers;
    private final ClientDeadlines deadlines;
    private final ReadPause readPause;
    /** What arrived while no server is linked. */
    private final QueuedFrames pending = new QueuedFrames();
    private ClientState state = ClientState.LOGIN;
    private Pool pool;
    private PoolShard shard;
    private PoolMode mode;
    private ShardStats stats;
    private ParamSet params = ParamSet.EMPTY;
    /** Named prepared statements under transaction pooling; null in session mode or when turned off. */
    private NamedStatements statements;
    /** LISTEN outside session mode: refused or pinning; null in session mode. */
    private ListenGuard listen;
    private ServerHandback handback;
    private ServerConnection server;
    private final ServerReplies replies;
    private long waitStartNanos;
    private boolean welcomePending;
    /** Closed by a Terminate while waiting, with requests still to run on the server it will get. */
    private boolean orphaned;

    ServerLink(ClientHandler client, Clients clients, PgFrameScanner scanner, RequestClock clock,
               OutstandingRequests outstanding) {
        this.client = client;
        this.clients = clients;
        this.channel = client.channel();
        this.scanner = scanner;
        this.clock = clock;
        this.outstanding = outstanding;
        this.timers = client.timers();
        this.deadlines = client.deadlines();
        this.readPause = client.readPause();
        this.replies = new ServerReplies(client, clients, this, clock, outstanding);
    }

    /** Logged in to {@code pool} with these startup parameters: servers come from its shard on this loop. */
    void join(Pool pool, Map<String, String> startup) {
        this.pool = pool;
        this.mode = pool.mode();
        this.shard = pool.shard(channel.eventLoop());
        this.handback = new ServerHandback(clients.cancels(), pool, shard);
        this.stats = shard.stats();
        this.params = pool.intern(ParamSet.fromStartup(startup));
        int maxPrepared = pool.settings().maxPreparedStatements();
        if (mode != PoolMode.SESSION) {
            listen = new ListenGuard(pool.settings().listenMode());
        }
        if (mode != PoolMode.SESSION && maxPrepared > 0) {
            statements = new NamedStatements(clients.pools().prepared(), maxPrepared, shard.stats());
        }
    }

    /** Logged in, with the welcome sent (or the admin console's): no server yet. */
    void idle() {
        state = ClientState.IDLE;
    }

    /** Logged in, but the welcome needs a server's parameters: it goes out when the first server links. */
    void welcomeWhenLinked() {
        welcomePending = true;
        requestServer();
    }

    void clientWritable(boolean writable) {
        if (server != null) {
            server.setAutoRead(writable);
        }
    }

    void requestServer() {
        state = ClientState.WAITING;
        waitStartNanos = System.nanoTime();
        timers.cancelIdleTransaction();
        shard.acquire(this);
    }

    // ---- the pool hands us a server ----

    @Override
    public void assign(ServerConnection s) {
        if (orphaned) {
            orphaned = false;
            handback.runOrphaned(s, params, pending, statements, outstanding);
            return;
        }
        if (state == ClientState.CLOSED) {
            shard.release(s);
            return;
        }
        stats.assigned(System.nanoTime() - waitStartNanos);
        String setup = s.setupFor(params);
        if (setup == null) {
            link(s);
            return;
        }
        s.runInternal(setup, (srv, error) -> {
            if (error == null) {
                link(srv);
                return;
            }
            srv.forgetSetup();
            shard.release(srv);
            if (state == ClientState.CLOSED) {
                return;
            }
            if (srv.state() == ServerConnection.State.CLOSED) {
                shard.acquire(this); // the server died under us: wait for another
            } else {
                log.info("client_params_rejected client={} error=\"{}\"", client, LogText.of(error));
                client.fatal(error.sqlState() != null ? error.sqlState() : SqlState.PROTOCOL_VIOLATION,
                        "startup parameter rejected by the server: " + error.message());
            }
        });
    }

    private void link(ServerConnection s) {
        if (state == ClientState.CLOSED) {
            shard.release(s);
            return;
        }
        server = s;
        s.link(replies);
        state = ClientState.ACTIVE;
        if (welcomePending) {
            welcomePending = false;
            client.welcome().send();
        }
        if (!pending.isEmpty()) {
            pending.writeTo(s, statements, outstanding); // translating statement frames for this server
            s.flush();
        }
        s.setAutoRead(channel.isWritable());
        readPause.resume(ReadPause.WAITING);
        maybeRelease();
    }

    @Override
    public void refuse(String sqlState, String message) {
        if (orphaned) {
            orphaned = false;
            pending.release();
            return;
        }
        if (state == ClientState.CLOSED) {
            return;
        }
        log.info("client_refused client={} sqlstate={} error=\"{}\"", client, sqlState, LogText.of(message));
        client.fatal(sqlState, message);
    }

    @Override
    public long waitStartNanos() {
        return waitStartNanos;
    }

    /** The server closed under its client. */
    void serverLost(ServerConnection s) {
        if (server == s) {
            server = null;
            if (state != ClientState.CLOSED) {
                client.fatal(SqlState.CONNECTION_FAILURE, s.closeReason() != null ? s.closeReason()
                        : "server connection closed unexpectedly (database " + client.welcome().database() + ")");
            }
        }
    }

    /** A ParameterStatus from the server: the client's parameters as the next server must be set up. */
    void parameter(String name, String value) {
        params = pool.intern(params.with(name, value));
    }

    /** Transaction and statement modes return the server as soon as the client holds nothing on it. */
    void maybeRelease() {
        if (mode == PoolMode.SESSION || server == null || outstanding.expectedReady() > 0 || outstanding.unsynced()
                || (listen != null && listen.pinned() && server.listened())
                || replies.txStatus() != 'I'
                || scanner.midFrame() || !pending.isEmpty()) {
            return;
        }
        channel.flush();
        ServerConnection s = server;
        server = null;
        s.unlink();
        state = ClientState.IDLE;
        readPause.resume(ReadPause.SERVER_BACKPRESSURE);
        handback.release(s); // (an UNLISTEN * first when LISTEN ran there)
        deadlines.becameIdle();
    }

    // ---- cancel, deadlines, the end ----

    /** The client's CancelRequest (its key checked): forwarded to the linked server with the server's own key. */
    void cancel() {
        if (server == null || state != ClientState.ACTIVE) {
            return; // nothing running: PostgreSQL ignores such requests too
        }
        ServerConnection s = server;
        s.beginCancel();
        clients.cancels().sendCancel(s.address(), s.backendPid(), s.backendSecret(), channel.eventLoop(),
                s::endCancel);
    }

    /** A client deadline passed: the linked server is closed when it comes back, never pooled mid-query. */
    void closeServerWhenDone() {
        if (server != null) {
            server.setCloseNeeded();
        }
    }

    /** The channel closed: no frame moves any more. Returns the state it was in. */
    ClientState close() {
        ClientState was = state;
        state = ClientState.CLOSED;
        return was;
    }

    /**
     * After {@link #close}: what was queued, the place in the pool's queue and the linked server are let go.
     * A client that ended with Terminate while waiting stays queued when what it sent is whole: those
     * requests run when a server comes, their replies swallowed, as PostgreSQL would have completed them.
     */
    void clientLeft(ClientState was, boolean clientMidFrame, boolean terminated) {
        boolean keepQueued = terminated && !clientMidFrame && !outstanding.unsynced();
        if (!(was == ClientState.WAITING && keepQueued)) {
            pending.release();
        }
        if (was == ClientState.WAITING) {
            if (keepQueued && !pending.isEmpty()) {
                orphaned = true;
            } else {
                shard.cancelWait(this);
            }
        }
        if (server != null) {
            ServerConnection s = server;
            server = null;
            s.unlink();
            handback.afterClientLeft(s, outstanding, clientMidFrame, terminated, channel.eventLoop());
        }
    }

    ClientState state() {
        return state;
    }

    byte txStatus() {
        return replies.txStatus();
    }

    NamedStatements statements() {
        return statements;
    }

    ListenGuard listen() {
        return listen;
    }

    PoolMode mode() {
        return mode;
    }

    ShardStats stats() {
        return stats;
    }

    QueuedFrames pending() {
        return pending;
    }

    /** Logged in, no server linked or asked for (client_idle_timeout counts). */
    boolean idleWithoutServer() {
        return state == ClientState.IDLE && server == null;
    }

    Pool pool() {
        return pool;
    }

    @Override
    public ParamSet params() {
        return params;
    }

    ServerConnection server() {
        return server;
    }
}
