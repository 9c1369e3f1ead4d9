package io.turnout.proxy.server;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import io.turnout.protocol.BackendType;
import io.turnout.protocol.PgFrameScanner;
import io.turnout.protocol.PgProtocolException;
import io.turnout.protocol.PgRead;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.ServerError;
import io.turnout.proxy.log.LogText;
import io.turnout.proxy.pool.ConnectionInfo;
import io.turnout.proxy.pool.ParamSet;
import io.turnout.proxy.pool.Pool;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to PostgreSQL. Lives on one event loop (its pool shard's) and is touched only there.
 * After login it forwards what the server sends to the linked client untouched, reading only
 * ReadyForQuery and ParameterStatus; queries Turnout runs itself (SET, reset, check, ROLLBACK) have their
 * replies swallowed here.
 */
public final class ServerConnection extends ChannelInboundHandlerAdapter implements PgFrameScanner.Listener {
    private static final Logger log = LoggerFactory.getLogger(ServerConnection.class);
    private static final String DISCARD_ALL = "DISCARD ALL";
    private static final String DEALLOCATE_ALL = "DEALLOCATE ALL";
    private static final String LISTEN = "LISTEN";

    public enum State { LOGIN, IDLE, ACTIVE, INTERNAL, CLOSED }

    /** Completion of a query Turnout ran itself; {@code error} is null when it succeeded. */
    public interface InternalDone {
        void done(ServerConnection server, ServerError error);
    }

    /** Receives the rows of an internal query that wants them (auth_query). */
    public interface RowSink {
        void row(java.util.List<String> columns);
    }

    private final long id = ConnectionInfo.nextId();
    private final ServerOwner owner;
    private final ServerCredentials credentials;
    private final String database;
    private final int generation;
    private final long createdNanos = System.nanoTime();
    private final PgFrameScanner scanner;
    private Channel channel;
    private ServerLogin login;
    private ScheduledFuture<?> loginTimeout;
    private State state = State.LOGIN;
    private int backendPid;
    private int backendSecret;
    /** A client ran LISTEN here: the server must not serve another client before UNLISTEN *. */
    private boolean listened;
    private InetSocketAddress address;
    private final ServerParameters params = new ServerParameters();
    private ServerPeer peer;
    /** Our own query (or a drain) running now, or null. */
    private InternalRequest internal;
    /** Pooler-wide statement names prepared on this connection. */
    private final PreparedOnServer prepared = new PreparedOnServer();
    /** CancelRequests sent for this server whose connections are still open. */
    private int cancelsInFlight;
    private Runnable afterCancels;
    private byte txStatus = 'I';
    private long idleSinceNanos = createdNanos;
    private long lastCheckedNanos = createdNanos;
    private boolean closeNeeded;
    /** Set once login completed: only then does the owner count this connection as open. */
    private boolean loggedIn;
    /** Running server_check_query (SHOW SERVERS state "tested"). */
    private boolean testing;
    private long linkedNanos = createdNanos;
    private String closeReason;
    /** Client bytes on their way to this server until the next flush. */
    private GatheringWriter writes;

    private ServerConnection(ServerOwner owner, ServerCredentials credentials, String database, int generation,
                             int maxPacketSize, io.netty.buffer.ByteBufAllocator alloc) {
        this.owner = owner;
        this.credentials = credentials;
        this.database = database;
        this.generation = generation;
        this.scanner = new PgFrameScanner(alloc, maxPacketSize, false);
    }

    /**
     * Opens a connection on {@code bootstrap}'s event loop and logs in; the owner hears the outcome on
     * that loop. {@code tls} null: plaintext (server_tls_sslmode disable or allow).
     */
    public static ServerConnection connect(Bootstrap bootstrap, ServerOwner owner, InetSocketAddress address,
                                           ServerCredentials credentials, String database, int generation,
                                           int maxPacketSize, long loginTimeoutMillis, ServerTls tls) {
        ServerConnection server = new ServerConnection(owner, credentials, database, generation, maxPacketSize,
                io.netty.buffer.ByteBufAllocator.DEFAULT);
        server.address = address;
        ChannelFuture f = bootstrap.clone().handler(tls == null ? server
                : tls.initializer(server, address, java.time.Duration.ofMillis(loginTimeoutMillis))).connect(address);
        server.channel = f.channel();
        server.writes = new GatheringWriter(server.channel);
        server.loginTimeout = f.channel().eventLoop().schedule(() -> server.failLogin("08006",
                "server login timed out after " + loginTimeoutMillis + " ms (server_connect_timeout)"),
                loginTimeoutMillis, TimeUnit.MILLISECONDS);
        f.addListener(done -> {
            if (!done.isSuccess()) {
                server.failLogin("08006", "could not connect to server " + address.getHostString() + ":"
                        + address.getPort() + ": " + rootMessage(done.cause()));
            }
        });
        return server;
    }

    // ---- login ----

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        login = new ServerLogin(this, credentials, database);
        login.start(ctx);
    }

    // called by ServerLogin, on this loop

    void loginParameter(String name, String value) {
        params.loggedIn(name, value);
    }

    void loginKey(int processId, int secretKey) {
        backendPid = processId;
        backendSecret = secretKey;
    }

    void loginDone() {
        if (loginTimeout != null) {
            loginTimeout.cancel(false);
        }
        login = null;
        loggedIn = true;
        state = State.IDLE;
        idleSinceNanos = System.nanoTime();
        lastCheckedNanos = idleSinceNanos;
        log.debug("server_login_ok id={} db={} user={} pid={}", id, database, credentials.user(), backendPid);
        owner.loginSucceeded(this);
    }

    void failLogin(String sqlState, String message) {
        if (state != State.LOGIN) {
            return;
        }
        state = State.CLOSED;
        if (loginTimeout != null) {
            loginTimeout.cancel(false);
        }
        log.warn("server_login_failed db={} user={} addr={} sqlstate={} error=\"{}\"", LogText.of(database),
                LogText.of(credentials.user()), address, sqlState, LogText.of(message)); // the client's user, db
        channel.close();
        owner.loginFailed(this, sqlState, message);
    }

    // ---- frames ----

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            scanner.scan((ByteBuf) msg, this);
        } catch (PgProtocolException e) {
            log.warn("server_protocol_error id={} error=\"{}\"", id, e.getMessage());
            ctx.close();
        }
    }

    @Override
    public int frameStart(byte type, int length) {
        if (state == State.LOGIN) {
            return PgFrameScanner.WHOLE;
        }
        if (internal != null) { // replies to our own query: read what matters, swallow the rest
            return internal.frameStart(type);
        }
        if (peer != null) {
            switch (type) { // bookkeeping as each reply starts; the frames pass in order
                case BackendType.COPY_IN_RESPONSE -> peer.serverCopyIn();
                case BackendType.ERROR_RESPONSE -> {
                    peer.serverError();
                    if (closeReason != null) {
                        return PgFrameScanner.WHOLE; // a drained leader: see replaceShutdownError
                    }
                }
                case BackendType.PARSE_COMPLETE -> {
                    return peer.serverParseComplete() ? PgFrameScanner.WHOLE : PgFrameScanner.PASS;
                }
                case BackendType.CLOSE_COMPLETE -> {
                    return peer.serverCloseComplete() ? PgFrameScanner.WHOLE : PgFrameScanner.PASS;
                }
                case BackendType.COMMAND_COMPLETE -> {
                    // only DISCARD ALL / DEALLOCATE ALL / LISTEN matter: a cheap length filter here, the tag is checked in inspect()
                    if (length == 4 + DISCARD_ALL.length() + 1 || length == 4 + DEALLOCATE_ALL.length() + 1
                            || length == 4 + LISTEN.length() + 1) {
                        return PgFrameScanner.INSPECT;
                    }
                }
                default -> { }
            }
        }
        return type == BackendType.READY_FOR_QUERY || type == BackendType.PARAMETER_STATUS
                ? PgFrameScanner.INSPECT : PgFrameScanner.PASS;
    }

    @Override
    public void inspect(byte type, ByteBuf buf, int index) {
        if (type == BackendType.COMMAND_COMPLETE) {
            String tag = PgRead.cstring(buf, index + PgRead.BODY, index + 1 + buf.getInt(index + 1));
            listened = tag.equals(LISTEN) || (listened && !tag.equals(DISCARD_ALL));
            if (tag.equals(DISCARD_ALL) || tag.equals(DEALLOCATE_ALL)) {
                prepared.clear();
                if (tag.equals(DISCARD_ALL)) {
                    params.forget(); // every parameter is back at its default
                }
                if (peer != null) {
                    peer.serverDeallocatedAll();
                }
            }
            return;
        }
        if (type == BackendType.READY_FOR_QUERY) {
            byte status = buf.getByte(index + PgRead.BODY);
            txStatus = status;
            if (peer != null) {
                peer.serverReady(status);
            }
        } else {
            String[] nv = PgRead.parameterStatus(buf, index);
            if (params.reported(nv[0], nv[1]) && peer != null) {
                peer.serverParameter(nv[0], nv[1]);
            }
        }
    }

    @Override
    public void passThrough(ByteBuf run) {
        if (internal == null && peer != null) {
            peer.serverData(run);
        } else {
            run.release(); // replies to our own queries, or chatter while idle (NOTICE, NOTIFY)
        }
    }

    @Override
    public void frame(byte type, ByteBuf frame) {
        if (state == State.LOGIN) {
            login.onFrame(type, frame);
            return;
        }
        if (type == BackendType.READY_FOR_QUERY) {
            txStatus = PgRead.readyStatus(frame);
        }
        InternalRequest r = internal;
        if (r == null && type == BackendType.ERROR_RESPONSE && peer != null) {
            replaceShutdownError(frame);
            return;
        }
        if (r == null) {
            frame.release(); // a ParseComplete or CloseComplete the client must not see
            return;
        }
        if (r.onFrame(type, frame)) {
            internal = null;
            state = peer != null ? State.ACTIVE : State.IDLE;
            r.complete(this);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (peer != null) {
            peer.flushToClient();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (peer != null) {
            peer.serverWritable(ctx.channel().isWritable());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        scanner.release();
        writes.release();
        if (!loggedIn) {
            failLogin("08006", "server closed the connection during login");
            return;
        }
        boolean wasOpen = state != State.CLOSED;
        state = State.CLOSED;
        if (wasOpen) {
            log.debug("server_closed id={} db={} user={}", id, database, credentials.user());
        }
        ServerPeer p = peer;
        peer = null;
        if (p != null) {
            p.serverLost(this);
        }
        if (internal != null) {
            InternalRequest r = internal;
            internal = null;
            r.fail(this, new ServerError("FATAL", "08006", "server closed the connection", null));
        }
        owner.closed(this);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.warn("server_error id={} db={} error=\"{}\"", id, database, rootMessage(cause));
        ctx.close();
    }

    // ---- used by the pool and the linked client, on this loop ----

    /** Runs {@code sql} as a simple query whose replies the client never sees. */
    public void runInternal(String sql, InternalDone done) {
        ByteBuf out = channel.alloc().buffer(sql.length() + 16);
        PgWrite.query(out, sql);
        startInternal(out, null, done);
    }

    /** Runs {@code sql} with text parameters through the extended protocol, handing its rows to {@code rows}. */
    public void runInternal(String sql, java.util.List<String> params, RowSink rows, InternalDone done) {
        ByteBuf out = channel.alloc().buffer(sql.length() + 64);
        PgWrite.parse(out, "", sql);
        PgWrite.bind(out, "", "", params);
        PgWrite.execute(out, "", 0);
        PgWrite.sync(out);
        startInternal(out, rows, done);
    }

    private void startInternal(ByteBuf messages, RowSink rows, InternalDone done) {
        internal = new InternalRequest(1, rows, done);
        state = State.INTERNAL;
        writes.push();
        channel.writeAndFlush(messages, channel.voidPromise());
    }

    /**
     * Swallows the replies to {@code readyCount} requests a departed client left running (it ended with
     * Terminate, so PostgreSQL would have completed them), then calls {@code done}.
     */
    public void drain(int readyCount, InternalDone done) {
        internal = new InternalRequest(readyCount, null, done);
        state = State.INTERNAL;
    }

    /** The statements prepared on this connection (named statements under transaction pooling). */
    public PreparedOnServer prepared() {
        return prepared;
    }

    /** A CancelRequest for this server is on its way: do not reuse it until {@link #endCancel}. */
    public void beginCancel() {
        cancelsInFlight++;
    }

    public void endCancel() {
        if (--cancelsInFlight == 0 && afterCancels != null) {
            Runnable r = afterCancels;
            afterCancels = null;
            r.run();
        }
    }

    /**
     * While a cancel is in flight the server must not run anyone else's query (the cancel could land on
     * it): runs {@code then} once the cancels are done and returns true, or returns false at once.
     */
    public boolean parkWhileCancelling(Runnable then) {
        if (cancelsInFlight == 0) {
            return false;
        }
        afterCancels = then;
        return true;
    }

    /**
     * The statements that put this connection in the client's parameter state, or null when it already
     * is; recorded as applied, so the caller must run them next.
     */
    public String setupFor(ParamSet wanted) {
        return params.setupFor(wanted);
    }

    /** The setup failed: its parameters are no longer known, so this connection is not reused. */
    public void forgetSetup() {
        params.forget();
        closeNeeded = true;
    }

    /** True when a client ran LISTEN here since the last UNLISTEN * or DISCARD ALL Turnout knows of. */
    public boolean listened() {
        return listened;
    }

    /** UNLISTEN * (or DISCARD ALL) ran: no channel is registered here any more. */
    public void unlistened() {
        listened = false;
    }

    /** After DISCARD ALL or RESET ALL every parameter is back at its login value. */
    public void forgetParamsAfterReset(String resetQuery) {
        params.afterReset(resetQuery);
    }

    public void link(ServerPeer p) {
        this.peer = p;
        this.state = State.ACTIVE;
        this.linkedNanos = System.nanoTime();
    }

    public void unlink() {
        this.peer = null;
        this.state = State.IDLE;
        this.idleSinceNanos = System.nanoTime();
        if (!channel.config().isAutoRead()) {
            channel.config().setAutoRead(true);
        }
    }

    /** Queues client bytes ({@code run}, owned) for the next {@link #flush}, called once per client read batch. */
    public void write(ByteBuf run) {
        writes.write(run, state == State.CLOSED);
    }

    /** Writes and flushes what {@link #write} queued. */
    public void flush() {
        writes.push();
        channel.flush();
    }

    public void setAutoRead(boolean autoRead) {
        channel.config().setAutoRead(autoRead);
    }

    public boolean isWritable() {
        return channel.isWritable();
    }

    /** Closes at once, linked or not, telling the linked client {@code reason} (fencing an old leader). */
    public void fence(String reason) {
        closeReason = reason;
        channel.close();
    }

    /** What the linked client is told if this connection dies (a drained leader stopping), unless fenced. */
    public void explainLoss(String reason) {
        if (closeReason == null) {
            closeReason = reason;
        }
    }

    /**
     * An error from a server whose loss is explained ({@link #explainLoss}): PostgreSQL's own FATAL as it
     * stops (57P01 admin_shutdown and its kin) is dropped, so the client reads the 08006 that says why
     * when the connection closes; any other error goes to the client as usual.
     */
    private void replaceShutdownError(ByteBuf frame) {
        ServerError e = ServerError.parse(frame);
        if ("FATAL".equals(e.severity()) && e.sqlState() != null && e.sqlState().startsWith("57P")) {
            log.debug("server_shutdown_error_replaced id={} sqlstate={}", id, e.sqlState());
            frame.release();
            return;
        }
        peer.serverData(frame);
    }

    /** Why Turnout closed this connection under its client, or null. */
    public String closeReason() {
        return closeReason;
    }

    public void close() {
        writes.push();
        if (state != State.CLOSED && channel.isActive()) {
            ByteBuf bye = channel.alloc().buffer(5);
            PgWrite.terminate(bye);
            channel.writeAndFlush(bye).addListener(io.netty.channel.ChannelFutureListener.CLOSE);
        } else {
            channel.close();
        }
    }

    public void setTesting(boolean testing) {
        this.testing = testing;
    }

    /** This connection as SHOW SERVERS prints it, or null once closed; call on this connection's loop. */
    public ConnectionInfo info(Pool pool) {
        String st = switch (state) {
            case LOGIN -> "new";
            case ACTIVE -> "active";
            case INTERNAL -> peer != null ? "active" : testing ? "tested" : "used";
            case IDLE -> peer != null ? "active" : "idle";
            case CLOSED -> null;
        };
        if (st == null) {
            return null;
        }
        return new ConnectionInfo(true, id, credentials.user(), pool.database(), pool, st,
                ConnectionInfo.host(channel.remoteAddress()),
                ConnectionInfo.port(channel.remoteAddress()),
                ConnectionInfo.host(channel.localAddress()),
                ConnectionInfo.port(channel.localAddress()),
                ConnectionInfo.epochMillis(createdNanos),
                ConnectionInfo.epochMillis(linkedNanos), 0, closeNeeded,
                peer != null ? peer.clientId() : 0, backendPid, params.login().getOrDefault("application_name", ""),
                prepared.size(), generation, false, io.turnout.proxy.tls.TlsHandshakes.describe(channel));
    }

    public ServerOwner owner() {
        return owner;
    }

    public void markChecked() {
        lastCheckedNanos = System.nanoTime();
    }

    public long id() {
        return id;
    }

    public State state() {
        return state;
    }

    public int generation() {
        return generation;
    }

    public boolean closeNeeded() {
        return closeNeeded;
    }

    public void setCloseNeeded() {
        closeNeeded = true;
    }

    public long createdNanos() {
        return createdNanos;
    }

    public long idleSinceNanos() {
        return idleSinceNanos;
    }

    public long lastCheckedNanos() {
        return lastCheckedNanos;
    }

    public byte txStatus() {
        return txStatus;
    }

    public boolean midFrame() {
        return scanner.midFrame();
    }

    public Map<String, String> loginParams() {
        return params.login();
    }

    public int backendPid() {
        return backendPid;
    }

    public int backendSecret() {
        return backendSecret;
    }

    public InetSocketAddress address() {
        return address;
    }

    public Channel channel() {
        return channel;
    }

    @Override
    public String toString() {
        return "server#" + id + "(" + database + "/" + credentials.user() + " pid=" + backendPid + " " + state + ")";
    }

    static String rootMessage(Throwable t) {
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }
}
