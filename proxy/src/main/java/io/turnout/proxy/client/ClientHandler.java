package io.turnout.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.turnout.protocol.PgFrameScanner;
import io.turnout.protocol.PgProtocolException;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.SqlState;
import io.turnout.proxy.log.LogText;
import io.turnout.proxy.net.ProxyProtocol;
import io.turnout.proxy.pool.ConnectionInfo;
import java.net.InetSocketAddress;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection in the pipeline, after the connection start ({@code tls/StartupNegotiation}): the
 * channel's events and its read pauses. Bytes go through the {@link PgFrameScanner} to the
 * {@link FrontendRouter}; {@link ClientLogin} and {@link ClientWelcome} take it to a pool; the
 * {@link ServerLink} ties it to a server. Everything runs on the client's event loop, which is also the loop
 * of every server it is linked to, so forwarding never changes thread.
 */
public final class ClientHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ClientHandler.class);

    private final Clients clients;
    private final PgFrameScanner scanner;
    private final long id = ConnectionInfo.nextId();
    private final long connectNanos = System.nanoTime();
    private final RequestClock clock = new RequestClock(connectNanos);
    private final OutstandingRequests outstanding = new OutstandingRequests();
    private Channel channel;
    private ClientTimers timers;
    private ClientDeadlines deadlines;
    private ReadPause readPause;
    private ServerLink link;
    private ClientWelcome welcome;
    private FrontendRouter router;

    public ClientHandler(Clients clients) {
        this.clients = clients;
        this.scanner = new PgFrameScanner(ByteBufAllocator.DEFAULT, clients.config().maxPacketSize(), true);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        readPause = new ReadPause(channel);
        timers = new ClientTimers(channel.eventLoop());
        deadlines = new ClientDeadlines(channel.eventLoop(), clock, () -> clients.config().pool().clientLimits(),
                () -> link.idleWithoutServer() && !router.console(), () -> link.state() == ClientState.WAITING,
                this::deadlinePassed);
        link = new ServerLink(this, clients, scanner, clock, outstanding);
        welcome = new ClientWelcome(this, clients, link);
        router = new FrontendRouter(this, link, clock, outstanding, new ClientLogin(this, clients, welcome));
        Duration timeout = clients.config().pool().clientLoginTimeout();
        timers.startLogin(timeout, () -> {
            if (link.state() == ClientState.LOGIN) {
                LoginFailures.count(LoginFailures.TIMEOUT);
                String why = "client_login_timeout: login not completed within " + timeout.toSeconds() + " s";
                if (router.silentLogin()) {
                    // a silent half-open connection (slowloris): counted in metrics, not worth a log line each;
                    // ten thousand of them timing out together would otherwise stall the loops on logging
                    log.debug("client_fatal client={} sqlstate={} error=\"{}\"", this, SqlState.PROTOCOL_VIOLATION, why);
                    sendFatal(SqlState.PROTOCOL_VIOLATION, why);
                } else {
                    fatal(SqlState.PROTOCOL_VIOLATION, why);
                }
            }
        });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (link.state() == ClientState.CLOSED) {
            ((ByteBuf) msg).release();
            return;
        }
        try {
            scanner.scan((ByteBuf) msg, router);
        } catch (PgProtocolException e) {
            fatal(e.sqlState(), e.getMessage());
            return;
        }
        router.readDone();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        router.flushToServer();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        link.clientWritable(ctx.channel().isWritable());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.info("client_error client={} error=\"{}\"", this, LogText.of(cause));
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        boolean clientMidFrame = scanner.midFrame(); // read before release() forgets the partial frame
        scanner.release();
        if (link == null) {
            return; // never active
        }
        ClientState was = link.close();
        timers.cancelAll();
        deadlines.close();
        readPause.close();
        router.close();
        welcome.leave();
        link.clientLeft(was, clientMidFrame, router.terminated());
        log.debug("client_closed client={}", this);
    }

    /** Sends a FATAL ErrorResponse and closes. */
    void fatal(String sqlState, String message) {
        if (!channel.isActive()) {
            return;
        }
        log.info("client_fatal client={} sqlstate={} error=\"{}\"", this, sqlState, LogText.of(message));
        sendFatal(sqlState, message);
    }

    /** The FATAL ErrorResponse and the close, for a caller that logged why already (or on purpose not). */
    void sendFatal(String sqlState, String message) {
        if (!channel.isActive()) {
            return;
        }
        ByteBuf out = channel.alloc().buffer(64 + message.length());
        PgWrite.errorResponse(out, "FATAL", sqlState, message);
        channel.writeAndFlush(out).addListener(ChannelFutureListener.CLOSE);
    }

    /** query_timeout, transaction_timeout, client_idle_timeout: the server is closed, never pooled mid-query. */
    private void deadlinePassed(String reason) {
        link.closeServerWhenDone();
        fatal(SqlState.PROTOCOL_VIOLATION, reason);
    }

    /** A CancelRequest carrying our key arrived (on any loop); runs on this client's loop. */
    void cancel(int secret) {
        if (welcome.cancelSecretIs(secret)) {
            link.cancel(); // with the wrong key, or nothing running, ignored as PostgreSQL does
        }
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

    /** This client as SHOW CLIENTS prints it, or null once closed; call on this client's loop. */
    public ConnectionInfo info() {
        return link == null ? null : ClientRow.of(id, connectNanos, clock.lastRequestNanos(), channel, link, welcome,
                router.console());
    }

    Channel channel() {
        return channel;
    }

    long id() {
        return id;
    }

    ClientTimers timers() {
        return timers;
    }

    ClientDeadlines deadlines() {
        return deadlines;
    }

    ReadPause readPause() {
        return readPause;
    }

    FrontendRouter router() {
        return router;
    }

    ClientWelcome welcome() {
        return welcome;
    }

    @Override
    public String toString() {
        InetSocketAddress remote = channel != null ? (InetSocketAddress) ProxyProtocol.clientAddress(channel) : null;
        String user = welcome != null ? welcome.user() : null;
        String database = welcome != null ? welcome.database() : null;
        return (user != null ? LogText.of(user) : "?") + "@" + (database != null ? LogText.of(database) : "?") + "/"
                + (remote != null ? remote.getHostString() + ":" + remote.getPort() : "-");
    }
}
