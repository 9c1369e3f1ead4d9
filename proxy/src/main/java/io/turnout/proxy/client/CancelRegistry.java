package io.turnout.proxy.client;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.turnout.config.NetworkSettings;
import io.turnout.protocol.PgWrite;
import io.turnout.proxy.net.Transports;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cancel keys Turnout hands to clients (its own, never a server's), and the forwarding of a
 * CancelRequest to the server the client is linked to at that moment, with that server's real key.
 */
public final class CancelRegistry {
    private static final Logger log = LoggerFactory.getLogger(CancelRegistry.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final ConcurrentHashMap<Integer, ClientHandler> clients = new ConcurrentHashMap<>();
    private final Bootstrap bootstrap;
    private final Transports transports;
    /** This instance's id, stamped into bits 24-30 of every key it hands out (0: no peering). */
    private final int peerId;
    private final Map<Integer, InetSocketAddress> peers;
    /** cancel_wait_timeout of the running configuration: how long one forwarded cancel may take (0: no limit). */
    private final java.util.function.Supplier<java.time.Duration> cancelWait;

    public CancelRegistry(Transports transports, NetworkSettings network,
                          java.util.function.Supplier<java.time.Duration> cancelWait) {
        this.transports = transports;
        this.cancelWait = cancelWait;
        this.peerId = network.peerId();
        this.peers = network.peers();
        this.bootstrap = new Bootstrap()
                .channel(transports.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000);
    }

    /**
     * A fresh (processId, secret) for {@code client}. With peering the process id carries this instance's
     * peer id, so a twin behind the same load balancer knows where a CancelRequest for it belongs.
     */
    int[] register(ClientHandler client) {
        while (true) {
            int key = peerId > 0 ? peerId << 24 | (RANDOM.nextInt(0xffffff) + 1)
                    : RANDOM.nextInt(Integer.MAX_VALUE - 1) + 1;
            if (clients.putIfAbsent(key, client) == null) {
                return new int[] {key, RANDOM.nextInt()};
            }
        }
    }

    void unregister(int key, ClientHandler client) {
        clients.remove(key, client);
    }

    /**
     * A CancelRequest arrived; the client it names decides on its own loop whether anything runs. A key
     * another instance handed out (the load balancer sent the cancel connection here) goes to that peer.
     */
    void cancel(int processId, int secret) {
        int owner = processId >>> 24 & 0x7f;
        if (peerId > 0 && owner != peerId) {
            InetSocketAddress peer = peers.get(owner);
            if (peer == null) {
                log.info("cancel_ignored reason=unknown_peer peer_id={}", owner);
                return;
            }
            log.info("cancel_to_peer peer_id={} peer={}", owner, peer);
            sendCancel(peer, processId, secret, transports.loops().get(0), () -> { });
            return;
        }
        ClientHandler client = clients.get(processId);
        if (client == null) {
            log.info("cancel_ignored reason=unknown_key");
            return;
        }
        client.channel().eventLoop().execute(() -> client.cancel(secret));
    }

    /**
     * Opens a connection to the server and sends it a CancelRequest, as libpq would; {@code done} runs on
     * {@code loop} once PostgreSQL has closed that connection (it has signalled the backend by then).
     */
    void sendCancel(InetSocketAddress server, int processId, int secret, EventLoop loop, Runnable done) {
        log.info("cancel_forwarded server={} pid={}", server, processId);
        long waitMillis = cancelWait.get().toMillis();
        Bootstrap b = bootstrap.clone(loop);
        if (waitMillis > 0) {
            b.option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(waitMillis, Integer.MAX_VALUE));
        }
        io.netty.channel.ChannelFuture f = b.handler(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                // PostgreSQL closes the connection once it has signalled the backend: wait for that, for at
                // most cancel_wait_timeout (PgBouncer's bound on a cancel request's life)
                ByteBuf out = ctx.alloc().buffer(16);
                PgWrite.cancelRequest(out, processId, secret);
                ctx.writeAndFlush(out);
                if (waitMillis > 0) {
                    ctx.executor().schedule(() -> {
                        if (ctx.channel().isActive()) {
                            log.info("cancel_timeout server={} pid={} cancel_wait_timeout_ms={}", server, processId,
                                    waitMillis);
                            ctx.close();
                        }
                    }, waitMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
                }
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close();
            }
        }).connect(server);
        f.addListener(c -> {
            if (!c.isSuccess()) {
                log.warn("cancel_failed server={} error=\"{}\"", server, c.cause().toString());
            }
        });
        f.channel().closeFuture().addListener(c -> done.run());
    }
}
