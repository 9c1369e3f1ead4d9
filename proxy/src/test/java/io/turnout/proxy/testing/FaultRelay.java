package io.turnout.proxy.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A TCP relay between Turnout and a real PostgreSQL that injects a network fault into chosen connections:
 * <ul>
 * <li>{@link Kind#BLACK_HOLE}: bytes are dropped both ways, no FIN or RST reaches Turnout (a hung server,
 * a silent network). When Turnout gives up and closes, the PostgreSQL side is closed too, so no backend
 * lingers.</li>
 * <li>{@link Kind#DELAY}: every byte, both ways, arrives that much later (in order).</li>
 * <li>{@link Kind#RESET}: both sides are closed with SO_LINGER 0, i.e. an RST.</li>
 * <li>{@link Kind#HALF_CLOSE}: a FIN towards Turnout while PostgreSQL's side stays open (what Turnout sends
 * still reaches PostgreSQL).</li>
 * </ul>
 * A fault hits a connection chosen at accept (the next one, the n-th, every new one, any predicate: it is
 * then in force from the first byte, e.g. during login) or the first connection whose bytes from Turnout
 * contain a marker (applied once those bytes were forwarded: "mid-query").
 *
 * <p>The kernel under this relay still acknowledges what Turnout sends, as a hung PostgreSQL's would, so TCP
 * keepalive and {@code tcp_user_timeout} do not fire on a black hole here: they detect a host or network
 * that is gone, which needs packet filtering. Everything runs on one event loop; every buffer read is
 * either written to the other side (passing the reference) or released, queued delayed ones included.
 */
public final class FaultRelay implements AutoCloseable {
    public enum Kind { BLACK_HOLE, DELAY, RESET, HALF_CLOSE }

    /** What happens to a chosen connection; {@code delay} only for {@link Kind#DELAY}. */
    public record Fault(Kind kind, Duration delay) {
        public static Fault blackHole() {
            return new Fault(Kind.BLACK_HOLE, Duration.ZERO);
        }

        public static Fault reset() {
            return new Fault(Kind.RESET, Duration.ZERO);
        }

        public static Fault halfClose() {
            return new Fault(Kind.HALF_CLOSE, Duration.ZERO);
        }

        public static Fault delay(Duration d) {
            return new Fault(Kind.DELAY, d);
        }
    }

    /** A rule waiting for its connection: chosen at accept ({@code marker} null) or by bytes it carries. */
    private record Rule(Predicate<Link> atAccept, byte[] marker, Fault fault, boolean once, AtomicBoolean used,
                        CompletableFuture<Link> hit) {
        boolean take() {
            return !once || used.compareAndSet(false, true);
        }
    }

    private final MultiThreadIoEventLoopGroup group =
            new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("fault-relay", true), NioIoHandler.newFactory());
    private final InetSocketAddress target;
    private final Channel listener;
    private final AtomicInteger accepted = new AtomicInteger();
    private final List<Rule> rules = new CopyOnWriteArrayList<>();
    private final Set<Link> links = ConcurrentHashMap.newKeySet();

    /** Listens on a free port of {@link OwnedDirs#HOST} and relays to {@code host:port}. */
    public FaultRelay(String host, int port) {
        this.target = new InetSocketAddress(host, port);
        this.listener = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.AUTO_READ, false).childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accept(ch);
                    }
                })
                .bind(OwnedDirs.HOST, 0).syncUninterruptibly().channel();
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    /** Connections accepted so far (each is a server connection Turnout opened, cancel requests included). */
    public int accepted() {
        return accepted.get();
    }

    /** The next connection accepted gets {@code fault} from its first byte; completes when it was chosen. */
    public CompletableFuture<Link> failNext(Fault fault) {
        return failAccepted(l -> true, fault);
    }

    /** The {@code n}-th connection since the relay started (1 is the first) gets {@code fault}. */
    public CompletableFuture<Link> failNth(int n, Fault fault) {
        return failAccepted(l -> l.ordinal() == n, fault);
    }

    /** The first connection accepted from now on that {@code which} picks gets {@code fault}. */
    public CompletableFuture<Link> failAccepted(Predicate<Link> which, Fault fault) {
        return arm(new Rule(which, null, fault, true, new AtomicBoolean(), new CompletableFuture<>()));
    }

    /** Every connection accepted until {@link #healNew()} gets {@code fault}. */
    public void failAllNew(Fault fault) {
        arm(new Rule(l -> true, null, fault, false, new AtomicBoolean(), new CompletableFuture<>()));
    }

    /** New connections are relayed faithfully again; faults already applied stay. */
    public void healNew() {
        rules.removeIf(r -> r.marker() == null && !r.once());
    }

    /**
     * The first connection whose bytes from Turnout contain {@code marker} (within one read) gets {@code fault}
     * right after those bytes were forwarded to PostgreSQL; completes when it hit.
     */
    public CompletableFuture<Link> failCarrying(String marker, Fault fault) {
        return arm(new Rule(null, marker.getBytes(StandardCharsets.UTF_8), fault, true, new AtomicBoolean(),
                new CompletableFuture<>()));
    }

    private CompletableFuture<Link> arm(Rule r) {
        rules.add(r);
        return r.hit();
    }

    @Override
    public void close() {
        group.submit(() -> {
            listener.close();
            links.forEach(Link::closeBoth);
        }).syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    // ---- on the relay's loop ----

    private void accept(SocketChannel turnout) {
        Link link = new Link(accepted.incrementAndGet(), turnout);
        links.add(link);
        for (Rule r : rules) {
            if (r.marker() == null && r.atAccept().test(link) && r.take()) {
                if (r.once()) {
                    rules.remove(r);
                }
                link.fault = r.fault();
                r.hit().complete(link);
                break;
            }
        }
        turnout.closeFuture().addListener(f -> link.turnoutClosed());
        new Bootstrap().group(turnout.eventLoop()).channel(NioSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false).option(ChannelOption.TCP_NODELAY, true)
                .handler(new Pump(link, false))
                .connect(target).addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        turnout.close(); // PostgreSQL is down: Turnout sees the connection drop
                        return;
                    }
                    link.connected(f.channel());
                });
    }

    /** Reads one side and hands every buffer to its link. */
    private final class Pump extends ChannelInboundHandlerAdapter {
        private final Link link;
        private final boolean fromTurnout;

        Pump(Link link, boolean fromTurnout) {
            this.link = link;
            this.fromTurnout = fromTurnout;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            link.forward(fromTurnout, (ByteBuf) msg); // takes ownership
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!fromTurnout) {
                link.serverClosed();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                link.drained(fromTurnout);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // connection reset by a peer: the close propagates like a FIN
        }
    }

    /** One relayed connection: Turnout's side, PostgreSQL's side and the fault in force. */
    public final class Link {
        private final int ordinal;
        private final SocketChannel turnout;
        private Channel server;
        private volatile Fault fault;
        private volatile long struckNanos;
        /** DELAY: buffers on their way, oldest first, per direction (released if the link closes first). */
        private final ArrayDeque<ByteBuf> toServer = new ArrayDeque<>();
        private final ArrayDeque<ByteBuf> toTurnout = new ArrayDeque<>();
        private final CompletableFuture<Void> turnoutGone = new CompletableFuture<>();

        private Link(int ordinal, SocketChannel turnout) {
            this.ordinal = ordinal;
            this.turnout = turnout;
        }

        /** 1 for the relay's first connection. */
        public int ordinal() {
            return ordinal;
        }

        /** The fault in force on this connection, or null. */
        public Fault fault() {
            return fault;
        }

        /** When the fault took effect on this connection (System.nanoTime), or 0. */
        public long struckNanos() {
            return struckNanos;
        }

        /** Completes when Turnout's side of this connection has closed (Turnout gave up on it). */
        public CompletableFuture<Void> turnoutGone() {
            return turnoutGone;
        }

        private void connected(Channel s) {
            server = s;
            if (!turnout.isActive()) {
                s.close();
                return;
            }
            turnout.pipeline().addLast(new Pump(this, true));
            turnout.config().setAutoRead(true);
            s.config().setAutoRead(true);
            Fault f = fault;
            if (f != null) {
                strike(f); // chosen at accept: RESET and HALF_CLOSE act now, the others shape every byte
            }
        }

        private void forward(boolean fromTurnout, ByteBuf buf) {
            Fault f = fault;
            if (f != null && f.kind() != Kind.DELAY
                    && (f.kind() != Kind.HALF_CLOSE || !fromTurnout)) {
                buf.release(); // black hole; reset (racing reads); nothing may follow a FIN to Turnout
                return;
            }
            Rule hit = fromTurnout && f == null ? markerIn(buf) : null;
            Channel to = fromTurnout ? server : turnout;
            if (f != null && f.kind() == Kind.DELAY) {
                delayed(fromTurnout, buf, f.delay());
            } else if (hit == null) {
                to.writeAndFlush(buf, to.voidPromise());
                if (!to.isWritable()) {
                    (fromTurnout ? turnout : server).config().setAutoRead(false);
                }
            } else {
                // the marked bytes reach PostgreSQL first; the fault applies from the moment they are on the wire
                to.writeAndFlush(buf).addListener(done -> {
                    fault = hit.fault();
                    // done before the strike: a test that sees its client fail must find the hit recorded
                    struckNanos = System.nanoTime();
                    hit.hit().complete(this);
                    strike(hit.fault());
                });
            }
        }

        private Rule markerIn(ByteBuf buf) {
            for (Rule r : rules) {
                if (r.marker() != null && contains(buf, r.marker()) && r.take()) {
                    rules.remove(r);
                    return r;
                }
            }
            return null;
        }

        private void delayed(boolean fromTurnout, ByteBuf buf, Duration delay) {
            ArrayDeque<ByteBuf> queue = fromTurnout ? toServer : toTurnout;
            queue.addLast(buf); // owned by the queue until the task below writes it
            turnout.eventLoop().schedule(() -> {
                ByteBuf next = queue.pollFirst();
                Channel to = fromTurnout ? server : turnout;
                if (next != null) {
                    to.writeAndFlush(next, to.voidPromise()); // a closed channel releases it
                }
            }, delay.toNanos(), TimeUnit.NANOSECONDS);
        }

        private void strike(Fault f) {
            if (struckNanos == 0) {
                struckNanos = System.nanoTime();
            }
            switch (f.kind()) {
                case RESET -> {
                    rst(turnout);
                    rst(server);
                }
                case HALF_CLOSE -> turnout.shutdownOutput();
                default -> { } // BLACK_HOLE and DELAY act in forward()
            }
        }

        /** Turnout's side ({@code turnoutSide}) or PostgreSQL's can take more: read again from the other. */
        private void drained(boolean turnoutSide) {
            Channel source = turnoutSide ? server : turnout;
            if (source != null) {
                source.config().setAutoRead(true);
            }
        }

        private void serverClosed() {
            Fault f = fault;
            if (f != null && f.kind() == Kind.BLACK_HOLE) {
                return; // silence: Turnout must find out by itself
            }
            if (f != null && f.kind() == Kind.DELAY) {
                // a FIN must not overtake the bytes still on their way
                turnout.eventLoop().schedule(() -> closeBoth(), f.delay().toNanos(), TimeUnit.NANOSECONDS);
                return;
            }
            turnout.close();
        }

        private void turnoutClosed() {
            closeBoth();
            turnoutGone.complete(null);
        }

        private void closeBoth() {
            turnout.close();
            if (server != null) {
                server.close();
            }
            releaseAll(toServer);
            releaseAll(toTurnout);
            if (!turnout.isOpen()) {
                links.remove(this);
            }
        }

        @Override
        public String toString() {
            return "link#" + ordinal + (fault != null ? "(" + fault.kind() + ")" : "");
        }
    }

    private static void rst(Channel ch) {
        if (ch != null && ch.isOpen()) {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
            ch.close();
        }
    }

    private static void releaseAll(ArrayDeque<ByteBuf> queue) {
        ByteBuf b;
        while ((b = queue.pollFirst()) != null) {
            b.release();
        }
    }

    private static boolean contains(ByteBuf buf, byte[] marker) {
        int end = buf.writerIndex() - marker.length;
        outer:
        for (int i = buf.readerIndex(); i <= end; i++) {
            for (int j = 0; j < marker.length; j++) {
                if (buf.getByte(i + j) != marker[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
