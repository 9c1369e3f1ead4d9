package io.turnout.proxy.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.turnout.protocol.BackendType;
import io.turnout.protocol.PgFrameScanner;
import io.turnout.protocol.PgProtocolException;
import io.turnout.protocol.PgRead;
import io.turnout.protocol.ServerError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty handler of one {@link ServerConnection}, and its forwarding: what PostgreSQL sends is scanned
 * into frames, and each goes to the login while it runs, to the running internal query, or to the linked
 * client untouched. Reads only what the pooler must: ReadyForQuery, ParameterStatus, the CommandComplete of
 * LISTEN / DISCARD ALL / DEALLOCATE ALL, and a stopping server's FATAL.
 */
public final class ServerHandler extends ChannelInboundHandlerAdapter implements PgFrameScanner.Listener {
    private static final Logger log = LoggerFactory.getLogger(ServerHandler.class);
    private static final String DISCARD_ALL = "DISCARD ALL";
    private static final String DEALLOCATE_ALL = "DEALLOCATE ALL";
    private static final String LISTEN = "LISTEN";

    private final ServerConnection server;
    private final PgFrameScanner scanner;

    ServerHandler(ServerConnection server, int maxPacketSize) {
        this.server = server;
        this.scanner = new PgFrameScanner(ByteBufAllocator.DEFAULT, maxPacketSize, false);
    }

    /** The connection this handler serves (the admin console finds servers by their channels' handlers). */
    public ServerConnection server() {
        return server;
    }

    /** True while a frame is cut off: the connection cannot serve another client at this point. */
    boolean midFrame() {
        return scanner.midFrame();
    }

    // ---- channel events ----

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        server.login.start(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            scanner.scan((ByteBuf) msg, this);
        } catch (PgProtocolException e) {
            log.warn("server_protocol_error id={} error=\"{}\"", server.id(), e.getMessage());
            ctx.close();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ServerPeer peer = server.peer;
        if (peer != null) {
            peer.flushToClient();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        ServerPeer peer = server.peer;
        if (peer != null) {
            peer.serverWritable(ctx.channel().isWritable());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        scanner.release();
        server.channelClosed();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.warn("server_error id={} db={} error=\"{}\"", server.id(), server.database(),
                ServerConnection.rootMessage(cause));
        ctx.close();
    }

    // ---- frames ----

    @Override
    public int frameStart(byte type, int length) {
        ServerConnection s = server;
        if (s.state == ServerConnection.State.LOGIN) {
            return PgFrameScanner.WHOLE;
        }
        if (s.queries.running()) { // replies to our own query: read what matters, swallow the rest
            return s.queries.frameStart(type);
        }
        ServerPeer peer = s.peer;
        if (peer != null) {
            switch (type) { // bookkeeping as each reply starts; the frames pass in order
                case BackendType.COPY_IN_RESPONSE -> peer.serverCopyIn();
                case BackendType.ERROR_RESPONSE -> {
                    peer.serverError();
                    if (s.closeReason != null) {
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
        ServerConnection s = server;
        if (type == BackendType.COMMAND_COMPLETE) {
            String tag = PgRead.cstring(buf, index + PgRead.BODY, index + 1 + buf.getInt(index + 1));
            s.listened = tag.equals(LISTEN) || (s.listened && !tag.equals(DISCARD_ALL));
            if (tag.equals(DISCARD_ALL) || tag.equals(DEALLOCATE_ALL)) {
                s.prepared.clear();
                if (tag.equals(DISCARD_ALL)) {
                    s.params.forget(); // every parameter is back at its default
                }
                if (s.peer != null) {
                    s.peer.serverDeallocatedAll();
                }
            }
            return;
        }
        if (type == BackendType.READY_FOR_QUERY) {
            byte status = buf.getByte(index + PgRead.BODY);
            s.txStatus = status;
            if (s.peer != null) {
                s.peer.serverReady(status);
            }
        } else {
            String[] nv = PgRead.parameterStatus(buf, index);
            if (s.params.reported(nv[0], nv[1]) && s.peer != null) {
                s.peer.serverParameter(nv[0], nv[1]);
            }
        }
    }

    @Override
    public void passThrough(ByteBuf run) {
        ServerConnection s = server;
        if (!s.queries.running() && s.peer != null) {
            s.peer.serverData(run);
        } else {
            run.release(); // replies to our own queries, or chatter while idle (NOTICE, NOTIFY)
        }
    }

    @Override
    public void frame(byte type, ByteBuf frame) {
        ServerConnection s = server;
        if (s.state == ServerConnection.State.LOGIN) {
            s.login.onFrame(type, frame);
            return;
        }
        if (type == BackendType.READY_FOR_QUERY) {
            s.txStatus = PgRead.readyStatus(frame);
        }
        if (s.queries.running()) {
            s.queries.onFrame(type, frame);
        } else if (type == BackendType.ERROR_RESPONSE && s.peer != null) {
            replaceShutdownError(frame);
        } else {
            frame.release(); // a ParseComplete or CloseComplete the client must not see
        }
    }

    /**
     * An error from a server whose loss is explained ({@link ServerConnection#explainLoss}): PostgreSQL's own
     * FATAL as it stops (57P01 admin_shutdown and its kin) is dropped, so the client reads the 08006 that
     * says why when the connection closes; any other error goes to the client as usual.
     */
    private void replaceShutdownError(ByteBuf frame) {
        ServerError e = ServerError.parse(frame);
        if ("FATAL".equals(e.severity()) && e.sqlState() != null && e.sqlState().startsWith("57P")) {
            log.debug("server_shutdown_error_replaced id={} sqlstate={}", server.id(), e.sqlState());
            frame.release();
            return;
        }
        server.peer.serverData(frame);
    }
}
