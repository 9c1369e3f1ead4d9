package io.turnout.proxy.server;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.ServerError;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to PostgreSQL, as its pool shard and its linked client hold it: its state, its session and
 * the writes toward it. Lives on one event loop (its shard's) and is touched only there. {@link ServerLogin}
 * opens it and hands it to its {@link ServerOwner}; its {@link ServerHandler} forwards what the server sends;
 * {@link InternalQueries} runs the queries Turnout sends itself.
 */
public final class ServerConnection {
    private static final Logger log = LoggerFactory.getLogger(ServerConnection.class);

    public enum State { LOGIN, IDLE, ACTIVE, INTERNAL, CLOSED }

    /** Completion of a query Turnout ran itself; {@code error} is null when it succeeded. */
    public interface InternalDone {
        void done(ServerConnection server, ServerError error);
    }

    /** Receives the rows of an internal query that wants them (auth_query). */
    public interface RowSink {
        void row(List<String> columns);
    }

    private final long id = ConnectionIds.next();
    private final ServerOwner owner;
    private final String user;
    private final String database;
    private final InetSocketAddress address;
    private final int generation;
    private final long createdNanos = System.nanoTime();
    final ServerHandler handler;
    final InternalQueries queries = new InternalQueries(this);
    final ServerParameters params = new ServerParameters();
    /** Pooler-wide statement names prepared on this connection. */
    final PreparedOnServer prepared = new PreparedOnServer();
    /** Until login ends; then null. */
    ServerLogin login;
    Channel channel;
    /** Client bytes on their way to this server until the next flush. */
    GatheringWriter writes;
    State state = State.LOGIN;
    /** The linked client, or null. */
    ServerPeer peer;
    /** A client ran LISTEN here: the server must not serve another client before UNLISTEN *. */
    boolean listened;
    byte txStatus = 'I';
    /** Why Turnout closed this connection under its client (fenced, or a drained leader), or null. */
    String closeReason;
    int backendPid;
    int backendSecret;
    /** CancelRequests sent for this server whose connections are still open. */
    private int cancelsInFlight;
    /** The owner asked to hear {@link ServerOwner#cancelsEnded} when the last cancel is done. */
    private boolean ownerAwaitsCancels;
    private long idleSinceNanos = createdNanos;
    private long lastCheckedNanos = createdNanos;
    private long linkedNanos = createdNanos;
    private boolean closeNeeded;
    /** Set once login completed: only then does the owner count this connection as open. */
    private boolean loggedIn;
    /** Running server_check_query (SHOW SERVERS state "tested"). */
    private boolean testing;

    private ServerConnection(ServerOwner owner, InetSocketAddress address, String user, String database,
                             int generation, int maxPacketSize) {
        this.owner = owner;
        this.address = address;
        this.user = user;
        this.database = database;
        this.generation = generation;
        this.handler = new ServerHandler(this, maxPacketSize);
    }

    /**
     * Opens a connection on {@code bootstrap}'s event loop and logs in; the owner hears the outcome on
     * that loop. {@code tls} null: plaintext (server_tls_sslmode disable or allow).
     */
    public static ServerConnection connect(Bootstrap bootstrap, ServerOwner owner, InetSocketAddress address,
                                           ServerCredentials credentials, String database, int generation,
                                           int maxPacketSize, long loginTimeoutMillis, ServerTls tls) {
        ServerConnection server = new ServerConnection(owner, address, credentials.user(), database, generation,
                maxPacketSize);
        server.login = new ServerLogin(server, credentials);
        server.login.connect(bootstrap, tls, loginTimeoutMillis);
        return server;
    }

    // ---- login, called by ServerLogin and ServerTlsNegotiation on this loop ----

    void attach(Channel ch) {
        channel = ch;
        writes = new GatheringWriter(ch);
    }

    void loginEnded(boolean ok) {
        if (!ok) {
            state = State.CLOSED;
            return;
        }
        login = null;
        loggedIn = true;
        state = State.IDLE;
        idleSinceNanos = System.nanoTime();
        lastCheckedNanos = idleSinceNanos;
    }

    void failLogin(String sqlState, String message) {
        if (login != null) {
            login.fail(sqlState, message);
        }
    }

    /** The channel closed (after login, or during it). */
    void channelClosed() {
        writes.release();
        if (!loggedIn) {
            failLogin("08006", "server closed the connection during login");
            return;
        }
        if (state != State.CLOSED) {
            log.debug("server_closed id={} db={} user={}", id, database, user);
        }
        state = State.CLOSED;
        ServerPeer p = peer;
        peer = null;
        if (p != null) {
            p.serverLost(this);
        }
        queries.closed();
        owner.closed(this);
    }

    // ---- used by the pool and the linked client, on this loop ----

    /** Runs {@code sql} as a simple query whose replies the client never sees. */
    public void runInternal(String sql, InternalDone done) {
        queries.simple(sql, done);
    }

    /** Runs {@code sql} with text parameters through the extended protocol, handing its rows to {@code rows}. */
    public void runInternal(String sql, List<String> params, RowSink rows, InternalDone done) {
        queries.extended(sql, params, rows, done);
    }

    /**
     * Swallows the replies to {@code readyCount} requests a departed client left running (it ended with
     * Terminate, so PostgreSQL would have completed them), then calls {@code done}.
     */
    public void drain(int readyCount, InternalDone done) {
        queries.drain(readyCount, done);
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

    /** A CancelRequest for this server is on its way: do not reuse it until {@link #endCancel}. */
    public void beginCancel() {
        cancelsInFlight++;
    }

    public void endCancel() {
        if (--cancelsInFlight == 0 && ownerAwaitsCancels) {
            ownerAwaitsCancels = false;
            owner.cancelsEnded(this);
        }
    }

    /**
     * While a cancel is in flight the server must not run anyone else's query (the cancel could land on
     * it): returns true and tells the owner {@link ServerOwner#cancelsEnded} once they are done, or returns
     * false at once.
     */
    public boolean parkWhileCancelling() {
        if (cancelsInFlight == 0) {
            return false;
        }
        ownerAwaitsCancels = true;
        return true;
    }

    /** The statements prepared on this connection (named statements under transaction pooling). */
    public PreparedOnServer prepared() {
        return prepared;
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

    /** After DISCARD ALL or RESET ALL every parameter is back at its login value. */
    public void forgetParamsAfterReset(String resetQuery) {
        params.afterReset(resetQuery);
    }

    /** True when a client ran LISTEN here since the last UNLISTEN * or DISCARD ALL Turnout knows of. */
    public boolean listened() {
        return listened;
    }

    /** UNLISTEN * (or DISCARD ALL) ran: no channel is registered here any more. */
    public void unlistened() {
        listened = false;
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

    /** Why Turnout closed this connection under its client, or null. */
    public String closeReason() {
        return closeReason;
    }

    public void close() {
        writes.push();
        if (state != State.CLOSED && channel.isActive()) {
            ByteBuf bye = channel.alloc().buffer(5);
            PgWrite.terminate(bye);
            channel.writeAndFlush(bye).addListener(ChannelFutureListener.CLOSE);
        } else {
            channel.close();
        }
    }

    public void setTesting(boolean testing) {
        this.testing = testing;
    }

    /** This connection's state in PgBouncer's words for SHOW SERVERS, or null once closed. */
    public String showState() {
        return switch (state) {
            case LOGIN -> "new";
            case ACTIVE -> "active";
            case INTERNAL -> peer != null ? "active" : testing ? "tested" : "used";
            case IDLE -> peer != null ? "active" : "idle";
            case CLOSED -> null;
        };
    }

    /** The linked client's id (SHOW SERVERS' link column), or 0. */
    public long linkedClientId() {
        return peer != null ? peer.clientId() : 0;
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

    public String user() {
        return user;
    }

    public String database() {
        return database;
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

    public long linkedNanos() {
        return linkedNanos;
    }

    public byte txStatus() {
        return txStatus;
    }

    public boolean midFrame() {
        return handler.midFrame();
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
        return "server#" + id + "(" + database + "/" + user + " pid=" + backendPid + " " + state + ")";
    }

    static String rootMessage(Throwable t) {
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }
}
