package io.turnout.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.turnout.config.PoolMode;
import io.turnout.protocol.FrontendType;
import io.turnout.protocol.PgFrameScanner;
import io.turnout.protocol.PgProtocolException;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.SqlState;
import io.turnout.proxy.log.LogText;
import io.turnout.proxy.net.ProxyProtocol;
import io.turnout.proxy.pool.ConnectionInfo;
import io.turnout.proxy.pool.ShardStats;
import io.turnout.proxy.pool.ParamSet;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.PoolShard;
import io.turnout.proxy.server.ServerConnection;
import io.turnout.proxy.server.ServerPeer;
import java.net.InetSocketAddress;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: login, then forwarding to a linked server. Everything happens on the client's
 * event loop, which is also the loop of every server it is linked to, so forwarding never changes thread.
 *
 * <p>Transaction pooling hinges on counting: each Query, Sync and FunctionCall the client sends earns
 * exactly one ReadyForQuery. The server goes back to the pool only at ReadyForQuery 'I' when none is
 * outstanding, no extended-protocol message waits for its Sync, and no frame is half forwarded.
 */
public final class ClientConnection extends ChannelInboundHandlerAdapter
        implements PgFrameScanner.Listener, PoolShard.Client, ServerPeer {
    private static final Logger log = LoggerFactory.getLogger(ClientConnection.class);

    public enum State { LOGIN, IDLE, WAITING, ACTIVE, CLOSED }

    private final Clients clients;
    private final PgFrameScanner scanner;
    private final long id = ConnectionInfo.nextId();
    private final long connectNanos = System.nanoTime();
    private final RequestClock clock = new RequestClock(connectNanos);
    private ShardStats stats;
    /** Set when this client logged in to the admin console instead of a database. */
    private ConsoleSession admin;
    private Channel channel;
    private State state = State.LOGIN;
    private ClientLogin login;
    private ClientTimers timers;
    private ClientDeadlines deadlines;
    private ReadPause readPause;
    private Pool pool;
    private PoolShard shard;
    private PoolMode mode;
    private ParamSet params = ParamSet.EMPTY;
    private String user;
    private String database;
    private int cancelKey;
    private int cancelSecret;
    private boolean counted;
    private ServerConnection server;
    /** The largest message accepted before authentication, as in PostgreSQL. */
    private static final int MAX_LOGIN_MESSAGE = 65535;
    /** Bytes a waiting client may queue before we stop reading its socket. */
    private static final int MAX_PENDING_BYTES = 256 * 1024;

    /** What arrived while no server is linked. */
    private final QueuedFrames pending = new QueuedFrames();
    /** Named prepared statements under transaction pooling; null in session mode or when turned off. */
    private NamedStatements statements;
    private ServerHandback handback;
    /** LISTEN outside session mode: refused or pinning; null in session mode. */
    private ListenGuard listen;
    private final OutstandingRequests outstanding = new OutstandingRequests();
    private byte txStatus = 'I';
    private long waitStartNanos;
    private boolean wroteToServer;
    /**
     * A request began while no server is linked: one is asked for once the whole read is queued, so that
     * a pipelined Bind/Execute/Sync reaches PostgreSQL in one write (one wakeup there, not two).
     */
    private boolean serverWanted;
    private boolean welcomePending;
    /** The client ended with Terminate (rather than vanishing): work it sent before may complete. */
    private boolean terminated;
    /** Closed by a Terminate while waiting, with requests still to run on the server it will get. */
    private boolean orphaned;

    public ClientConnection(Clients clients) {
        this.clients = clients;
        this.scanner = new PgFrameScanner(io.netty.buffer.ByteBufAllocator.DEFAULT, clients.config().maxPacketSize(), true);
    }

    // ---- channel events ----

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        readPause = new ReadPause(channel);
        timers = new ClientTimers(channel.eventLoop());
        deadlines = new ClientDeadlines(channel.eventLoop(), clock, () -> clients.config().pool().clientLimits(),
                () -> state == State.IDLE && server == null && admin == null, () -> state == State.WAITING,
                this::deadlinePassed);
        login = new ClientLogin(this, clients);
        java.time.Duration timeout = clients.config().pool().clientLoginTimeout();
        timers.startLogin(timeout, () -> {
            if (state == State.LOGIN) {
                fatal(SqlState.PROTOCOL_VIOLATION, "client_login_timeout: login not completed within "
                        + timeout.toSeconds() + " s");
            }
        });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (state == State.CLOSED) {
            ((ByteBuf) msg).release();
            return;
        }
        try {
            scanner.scan((ByteBuf) msg, this);
        } catch (PgProtocolException e) {
            fatal(e.sqlState(), e.getMessage());
            return;
        }
        if (serverWanted) {
            serverWanted = false;
            if (state == State.IDLE) {
                requestServer();
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (wroteToServer && server != null) {
            wroteToServer = false;
            server.flush();
            if (txStatus == 'I' && outstanding.expectedReady() == 0) {
                maybeRelease(); // the server may have been held only by a frame that is now complete
            }
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (server != null) {
            server.setAutoRead(ctx.channel().isWritable());
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.info("client_error client={} error=\"{}\"", this, LogText.of(cause));
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        State was = state;
        state = State.CLOSED;
        boolean clientMidFrame = scanner.midFrame(); // read before release() forgets the partial frame
        scanner.release();
        if (timers != null) { // (both are made in channelActive)
            timers.cancelAll();
            deadlines.close();
            readPause.close();
        }
        if (!(was == State.WAITING && terminated && !clientMidFrame && !outstanding.unsynced())) {
            pending.release();
        }
        if (login != null) {
            login.abandon();
        }
        if (cancelKey != 0) {
            clients.cancels().unregister(cancelKey, this);
        }
        if (counted) {
            clients.count().decrementAndGet();
        }
        if (pool != null) {
            clients.counts().release(pool.db().clientCounter(), user);
        }
        if (was == State.WAITING) {
            if (terminated && !pending.isEmpty() && !clientMidFrame && !outstanding.unsynced()) {
                orphaned = true; // stays queued: its last requests run when a server comes, replies swallowed
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
        log.debug("client_closed client={}", this);
    }

    // ---- frames from the client ----

    @Override
    public int frameStart(byte type, int length, ByteBuf buf, int bodyIndex, int readable) {
        if (listen != null && (type == FrontendType.QUERY || type == FrontendType.PARSE)
                && ListenGuard.mayMatter(type, length, buf, bodyIndex, readable)) {
            clock.messageReceived(txStatus);
            outstanding.sent(type);
            return PgFrameScanner.WHOLE; // perhaps (UN)LISTEN: frame() reads it
        }
        if (statements != null && state != State.LOGIN) {
            switch (type) {
                case FrontendType.PARSE, FrontendType.BIND, FrontendType.DESCRIBE, FrontendType.CLOSE -> {
                    if (clock.messageReceived(txStatus)) {
                        deadlines.changed();
                    }
                    outstanding.sent(type);
                    return NamedStatements.namesNoStatement(type, buf, bodyIndex, readable, outstanding)
                            ? PgFrameScanner.PASS : PgFrameScanner.WHOLE;
                }
                default -> { }
            }
        }
        return frameStart(type, length);
    }

    @Override
    public int frameStart(byte type, int length) {
        if (state == State.LOGIN) {
            if (length > MAX_LOGIN_MESSAGE) {
                // PostgreSQL's own cap (PG_MAX_AUTH_TOKEN_LENGTH): nobody unauthenticated makes us buffer more
                throw new PgProtocolException("invalid message length " + length + " during authentication");
            }
            return PgFrameScanner.WHOLE;
        }
        if (admin != null) {
            return admin.frameStart(type, length);
        }
        if (clock.messageReceived(txStatus)) {
            deadlines.changed();
        }
        switch (type) {
            // (with named statements on, the five-argument frameStart takes Parse, Bind, Describe and Close)
            case FrontendType.QUERY, FrontendType.SYNC, FrontendType.FUNCTION_CALL, FrontendType.EXECUTE,
                 FrontendType.PARSE, FrontendType.BIND, FrontendType.DESCRIBE, FrontendType.CLOSE,
                 FrontendType.COPY_DONE, FrontendType.COPY_FAIL -> {
                outstanding.sent(type);
                return PgFrameScanner.PASS;
            }
            case FrontendType.COPY_DATA, FrontendType.FLUSH -> {
                return PgFrameScanner.PASS;
            }
            case FrontendType.TERMINATE -> {
                return PgFrameScanner.WHOLE;
            }
            default -> throw new PgProtocolException(invalidType(type));
        }
    }

    @Override
    public void passThrough(ByteBuf run) {
        stats.received(run.readableBytes());
        if (state == State.ACTIVE) {
            server.write(run);
            wroteToServer = true;
            return;
        }
        if (state == State.CLOSED) {
            run.release();
            return;
        }
        int queued = pending.addRun(run);
        if (state == State.IDLE) {
            serverWanted = true;
        }
        if (queued > MAX_PENDING_BYTES) {
            readPause.pause(ReadPause.WAITING); // a client streaming while it waits: stop reading until linked
        }
    }

    @Override
    public void frame(byte type, ByteBuf frame) {
        if (state == State.LOGIN) {
            login.onFrame(type, frame);
            return;
        }
        if (admin != null) {
            admin.onFrame(type, frame);
            return;
        }
        if (listen != null && (type == FrontendType.QUERY || type == FrontendType.PARSE)) {
            ByteBuf f = listen.onStatement(type, frame, channel.alloc());
            if (type == FrontendType.PARSE && statements != null) {
                statementFrame(type, f);
            } else {
                passThrough(f);
            }
            return;
        }
        if (statements != null && (type == FrontendType.PARSE || type == FrontendType.BIND
                || type == FrontendType.DESCRIBE || type == FrontendType.CLOSE)) {
            statementFrame(type, frame);
            return;
        }
        frame.release();
        if (type == FrontendType.TERMINATE) {
            terminated = true;
            channel.close();
        } else {
            fatal(SqlState.PROTOCOL_VIOLATION, invalidType(type));
        }
    }

    private void statementFrame(byte type, ByteBuf frame) {
        stats.received(frame.readableBytes());
        if (state == State.ACTIVE) {
            statements.forward(type, frame, server, outstanding);
            wroteToServer = true;
            return;
        }
        if (state == State.CLOSED) {
            frame.release();
            return;
        }
        int queued = pending.addStatement(type, frame);
        if (state == State.IDLE) {
            serverWanted = true;
        }
        if (queued > MAX_PENDING_BYTES) {
            readPause.pause(ReadPause.WAITING);
        }
    }

    private void requestServer() {
        state = State.WAITING;
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
        if (state == State.CLOSED) {
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
            if (state == State.CLOSED) {
                return;
            }
            if (srv.state() == ServerConnection.State.CLOSED) {
                shard.acquire(this); // the server died under us: wait for another
            } else {
                log.info("client_params_rejected client={} error=\"{}\"", this, LogText.of(error));
                fatal(error.sqlState() != null ? error.sqlState() : SqlState.PROTOCOL_VIOLATION,
                        "startup parameter rejected by the server: " + error.message());
            }
        });
    }

    private void link(ServerConnection s) {
        if (state == State.CLOSED) {
            shard.release(s);
            return;
        }
        server = s;
        s.link(this);
        state = State.ACTIVE;
        if (welcomePending) {
            welcomePending = false;
            sendWelcome();
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
        if (state == State.CLOSED) {
            return;
        }
        log.info("client_refused client={} sqlstate={} error=\"{}\"", this, sqlState, LogText.of(message));
        fatal(sqlState, message);
    }

    @Override
    public long waitStartNanos() {
        return waitStartNanos;
    }

    // ---- what the server says ----

    @Override
    public void serverData(ByteBuf run) {
        stats.sent(run.readableBytes());
        channel.write(run, channel.voidPromise());
    }

    @Override
    public void serverReady(byte status) {
        outstanding.readyReceived();
        txStatus = status;
        clock.ready(status, outstanding.expectedReady() > 0, stats);
        if (outstanding.expectedReady() == 0 && status != 'I') {
            if (mode == PoolMode.STATEMENT) {
                channel.flush();
                fatal(SqlState.FEATURE_NOT_SUPPORTED, "transaction blocks are not allowed in statement pooling mode");
                return;
            }
            startIdleTxTimer();
        }
        maybeRelease();
    }

    @Override
    public void serverCopyIn() {
        outstanding.copyInStarted();
    }

    @Override
    public void serverError() {
        ServerConnection s = server;
        outstanding.errorReceived(undo -> statements.undo(undo, s));
    }

    @Override
    public boolean serverParseComplete() {
        return outstanding.parseCompleted();
    }

    @Override
    public boolean serverCloseComplete() {
        return outstanding.closeCompleted();
    }

    @Override
    public void serverDeallocatedAll() {
        if (statements != null) {
            statements.clear();
        }
    }

    @Override
    public void serverParameter(String name, String value) {
        params = pool.intern(params.with(name, value));
    }

    @Override
    public void flushToClient() {
        channel.flush();
    }

    @Override
    public void serverWritable(boolean writable) {
        if (writable) {
            readPause.resume(ReadPause.SERVER_BACKPRESSURE);
        } else {
            readPause.pause(ReadPause.SERVER_BACKPRESSURE);
        }
    }

    @Override
    public void serverLost(ServerConnection s) {
        if (server == s) {
            server = null;
            if (state != State.CLOSED) {
                fatal(SqlState.CONNECTION_FAILURE, s.closeReason() != null ? s.closeReason()
                        : "server connection closed unexpectedly (database " + database + ")");
            }
        }
    }

    /** Transaction and statement modes return the server as soon as the client holds nothing on it. */
    private void maybeRelease() {
        if (mode == PoolMode.SESSION || server == null || outstanding.expectedReady() > 0 || outstanding.unsynced()
                || (listen != null && listen.pinned() && server.listened())
                || txStatus != 'I'
                || scanner.midFrame() || !pending.isEmpty()) {
            return;
        }
        channel.flush();
        ServerConnection s = server;
        server = null;
        s.unlink();
        state = State.IDLE;
        readPause.resume(ReadPause.SERVER_BACKPRESSURE);
        handback.release(s); // (an UNLISTEN * first when LISTEN ran there)
        deadlines.becameIdle();
    }

    // ---- login results (from ClientLogin) ----

    /** Authentication passed: finish the welcome from the pool's cache, or from a first server login. */
    void authenticated(String user, String database, Pool pool, Map<String, String> startup) {
        this.user = user;
        this.database = database;
        String refused = clients.counts().admit(clients.config().pool().clientLimits(), pool.db().clientCounter(), user);
        if (refused != null) {
            fatal(SqlState.PROTOCOL_VIOLATION, refused); // PgBouncer's code and words for these two limits
            return;
        }
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
        this.login = null;
        int[] key = clients.cancels().register(this);
        cancelKey = key[0];
        cancelSecret = key[1];
        timers.loginDone();
        if (pool.welcome() != null) {
            state = State.IDLE;
            sendWelcome();
            channel.flush();
            deadlines.becameIdle();
        } else {
            // No server of this pool has logged in yet: the welcome needs its parameters (and proves the
            // backend is reachable before the client believes it is connected).
            welcomePending = true;
            requestServer();
        }
    }

    /** Authentication passed for the admin console: no pool, the console answers every query. */
    void authenticatedAdmin(String user, String database, boolean fullAccess) {
        this.user = user;
        this.database = database;
        this.login = null;
        timers.loginDone();
        int[] key = clients.cancels().register(this);
        cancelKey = key[0];
        cancelSecret = key[1];
        state = State.IDLE;
        admin = clients.consoles().open(channel, user, fullAccess, this::fatal);
        admin.welcome(cancelKey, cancelSecret);
    }

    private void sendWelcome() {
        ByteBuf out = channel.alloc().buffer(512);
        for (Map.Entry<String, String> e : pool.welcome().entrySet()) {
            String own = params.get(e.getKey().toLowerCase(java.util.Locale.ROOT));
            PgWrite.parameterStatus(out, e.getKey(), own != null ? own : e.getValue());
        }
        PgWrite.backendKeyData(out, cancelKey, cancelSecret);
        PgWrite.readyForQuery(out, (byte) 'I');
        channel.write(out, channel.voidPromise());
        log.debug("client_login_ok client={}", this);
    }

    /** Counts this client against max_client_conn; false when the limit is reached. */
    boolean countClient() {
        if (!clients.admit(clients.config().pool().maxClientConn())) {
            return false;
        }
        counted = true;
        return true;
    }

    // ---- cancel ----

    /** A CancelRequest carrying our key arrived (on any loop); runs on this client's loop. */
    void cancel(int secret) {
        if (secret != cancelSecret || server == null || state != State.ACTIVE) {
            return; // wrong key, or nothing running: PostgreSQL ignores such requests too
        }
        ServerConnection s = server;
        s.beginCancel();
        clients.cancels().sendCancel(s.address(), s.backendPid(), s.backendSecret(), channel.eventLoop(),
                s::endCancel);
    }

    // ---- helpers ----

    /** PostgreSQL's wording: the type as an unsigned number, never the raw byte (a NUL would cut the field). */
    static String invalidType(byte type) {
        return "invalid frontend message type " + (type & 0xff);
    }

    /** Sends a FATAL ErrorResponse and closes. */
    void fatal(String sqlState, String message) {
        if (!channel.isActive()) {
            return;
        }
        log.info("client_fatal client={} sqlstate={} error=\"{}\"", this, sqlState, LogText.of(message));
        ByteBuf out = channel.alloc().buffer(64 + message.length());
        PgWrite.errorResponse(out, "FATAL", sqlState, message);
        channel.writeAndFlush(out).addListener(ChannelFutureListener.CLOSE);
    }

    /** query_timeout, transaction_timeout, client_idle_timeout: the server is closed, never pooled mid-query. */
    private void deadlinePassed(String reason) {
        if (server != null) {
            server.setCloseNeeded();
        }
        fatal(SqlState.PROTOCOL_VIOLATION, reason);
    }

    private void startIdleTxTimer() {
        java.time.Duration timeout = clients.config().pool().idleTransactionTimeout();
        timers.startIdleTransaction(timeout, () -> {
            if (server != null && outstanding.expectedReady() == 0 && txStatus != 'I') {
                fatal(SqlState.IDLE_IN_TRANSACTION_TIMEOUT, "idle_transaction_timeout: transaction idle for more than "
                        + timeout.toSeconds() + " s");
            }
        });
    }

    Channel channel() {
        return channel;
    }

    public long id() {
        return id;
    }

    @Override
    public long clientId() {
        return id;
    }

    /** This client as SHOW CLIENTS prints it, or null once closed; call on this client's loop. */
    public ConnectionInfo info() {
        String st = switch (state) {
            case LOGIN -> "login";
            case IDLE -> "idle"; // PgBouncer's word for a logged-in client without a server
            case ACTIVE -> "active";
            case WAITING -> "waiting";
            case CLOSED -> null;
        };
        if (st == null) {
            return null;
        }
        long now = System.nanoTime();
        return new ConnectionInfo(false, id, user != null ? user : "(nouser)", database != null ? database : "(nodb)",
                pool, st, ConnectionInfo.host(ProxyProtocol.clientAddress(channel)),
                ConnectionInfo.port(ProxyProtocol.clientAddress(channel)),
                ConnectionInfo.host(channel.localAddress()), ConnectionInfo.port(channel.localAddress()),
                ConnectionInfo.epochMillis(connectNanos), ConnectionInfo.epochMillis(clock.lastRequestNanos()),
                state == State.WAITING ? now - waitStartNanos : 0, false, server != null ? server.id() : 0, 0,
                params.get("application_name") != null ? params.get("application_name") : "",
                statements != null ? statements.size() : 0, 0, admin != null,
                io.turnout.proxy.tls.TlsHandshakes.describe(channel));
    }

    /** KILL, KILL_CLIENT: tell the client why and close it (any thread). */
    public void kill(String reason) {
        channel.eventLoop().execute(() -> fatal(SqlState.ADMIN_SHUTDOWN, reason));
    }

    /** SUSPEND stops reading from every client socket; RESUME reads again (any thread). */
    public void suspend(boolean suspended) {
        channel.eventLoop().execute(() -> {
            if (suspended) {
                readPause.pause(ReadPause.SUSPEND);
            } else {
                readPause.resume(ReadPause.SUSPEND);
            }
        });
    }

    PgFrameScanner scanner() {
        return scanner;
    }

    public State state() {
        return state;
    }

    @Override
    public String toString() {
        InetSocketAddress remote = channel != null ? (InetSocketAddress) ProxyProtocol.clientAddress(channel) : null;
        return (user != null ? LogText.of(user) : "?") + "@" + (database != null ? LogText.of(database) : "?") + "/"
                + (remote != null ? remote.getHostString() + ":" + remote.getPort() : "-");
    }
}
