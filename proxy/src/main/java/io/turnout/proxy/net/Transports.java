package io.turnout.proxy.net;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringBufferRingConfig;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringFixedBufferRingAllocator;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringIoHandlerConfig;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.turnout.config.Transport;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event loops and socket classes of the configured {@code transport}: io_uring, native epoll (fewer
 * copies, per-socket TCP options) or NIO; one that does not load falls back to the next with a log line.
 * Client and server sockets share the loops, so both sides use the same transport. Each loop has a fixed
 * index so pools can keep one shard per loop.
 */
public final class Transports implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Transports.class);
    /**
     * Netty 4.2's io_uring polls POLLIN with one multishot POLL_ADD where the kernel has it. With it, a server
     * connection's last bytes (the 57P02 FATAL a backend writes as the postmaster ends it) were read, but
     * not the EOF or reset after them, ever: the linked client waited forever (CrashedServerNoticedIT, 1 to 4
     * stuck clients of 8 per run; DiskFullIT's pg_wal PANIC). One-shot polls, armed for each read, see it.
     * Netty reads this once, when IoUring loads, so it is set before; an operator's own -D wins.
     */
    static final String POLL_ADD_MULTISHOT = "io.netty.iouring.pollAddMultishotEnabled";

    static {
        if (System.getProperty(POLL_ADD_MULTISHOT) == null) {
            System.setProperty(POLL_ADD_MULTISHOT, "false");
        }
    }
    /**
     * {@code -Dturnout.iouring.bufferRing=true} turns the provided buffer ring on ({@link #bufferRing()}).
     */
    static final String BUFFER_RING = "turnout.iouring.bufferRing";
    /** The group id of each loop's provided buffer ring: every socket of a loop draws from its loop's ring. */
    static final short BUFFER_GROUP = 0;
    /** Entries of the ring (the most buffers the kernel may hold filled but not yet completed, per loop). */
    static final short BUFFER_RING_ENTRIES = 1024;
    /** Buffers added at start and at each ENOBUFS, so an idle pooler holds 64 × 16 KiB per loop, not 16 MiB. */
    static final int BUFFER_RING_BATCH = 64;
    static final int BUFFER_SIZE = 16 * 1024;

    private final Transport kind;
    private final boolean bufferRing;
    private final MultiThreadIoEventLoopGroup group;
    private final List<EventLoop> loops;
    private final Map<EventExecutor, Integer> indexes = new IdentityHashMap<>();

    public Transports(int threads, Transport wanted) {
        this.kind = resolve(wanted);
        this.bufferRing = kind == Transport.IO_URING && bufferRingWanted();
        IoHandlerFactory factory = switch (kind) {
            case IO_URING -> bufferRing ? IoUringIoHandler.newFactory(withBufferRing()) : IoUringIoHandler.newFactory();
            case EPOLL -> EpollIoHandler.newFactory();
            default -> NioIoHandler.newFactory();
        };
        int n = threads > 0 ? threads : defaultLoops(Runtime.getRuntime().availableProcessors());
        this.group = new MultiThreadIoEventLoopGroup(n, new DefaultThreadFactory("turnout-loop", true), factory);
        List<EventLoop> all = new ArrayList<>();
        for (EventExecutor e : group) {
            indexes.put(e, all.size());
            all.add((EventLoop) e);
        }
        this.loops = List.copyOf(all);
    }

    /**
     * {@code workers: 0}: a loop per core but one, at least one. The other core is for what else the process and
     * the host run beside the loops: the collector, the JIT, the metrics endpoint and topology watchers, and on a
     * small host the applications or PostgreSQL. On two cores one loop beat two in three interleaved races
     * (bench/race --variant-yaml "workers: 1"): 15-20% less CPU per transaction, p99 at 500 clients 0.84-1.00 of
     * PgBouncer's against 1.03-1.20 (two loops each queue half the clients, and each stalls on its own when
     * descheduled), TPS within 5% (README, Benchmarks).
     */
    static int defaultLoops(int cores) {
        return Math.max(1, cores - 1);
    }

    /**
     * The transport that loads for {@code wanted}. AUTO is io_uring, else epoll, else NIO (NIO also with
     * -Dturnout.nio=true): with one-shot polls ({@link #POLL_ADD_MULTISHOT}) io_uring won the quiet
     * bench/race --rounds 3 --transport io_uring,epoll at 1.10-1.22 of epoll's TPS and 72-74% of its CPU per
     * transaction (README, Benchmarks). A close Netty's io_uring can lose is made good by
     * {@link ShutdownInputOnCloseHandler}.
     */
    static Transport resolve(Transport wanted) {
        if (wanted == Transport.IO_URING) {
            if (IoUring.isAvailable()) {
                if (IoUring.isPollAddMultishotEnabled()) {
                    log.warn("io_uring_multishot_poll {}=true note=\"a server's close may go unnoticed after its"
                            + " last bytes: leave it unset or false\"", POLL_ADD_MULTISHOT);
                }
                return Transport.IO_URING;
            }
            Transport next = Epoll.isAvailable() ? Transport.EPOLL : Transport.NIO;
            log.warn("transport_fallback wanted=io_uring using={} cause=\"{}\"", next.key(), IoUring.unavailabilityCause());
            return next;
        }
        if (wanted == Transport.EPOLL && !Epoll.isAvailable()) {
            log.warn("transport_fallback wanted=epoll using=nio cause=\"{}\"", Epoll.unavailabilityCause());
            return Transport.NIO;
        }
        if (wanted == Transport.AUTO) {
            if (Boolean.getBoolean("turnout.nio")) {
                return Transport.NIO;
            }
            if (IoUring.isAvailable()) {
                return resolve(Transport.IO_URING); // warns as an explicit io_uring does
            }
            Transport next = Epoll.isAvailable() ? Transport.EPOLL : Transport.NIO;
            log.info("transport_auto using={} io_uring_unavailable=\"{}\"", next.key(), IoUring.unavailabilityCause());
            return next;
        }
        return wanted;
    }

    /**
     * On io_uring, whether sockets receive into a provided buffer ring with one multishot RECV each, instead of a
     * POLL_ADD and a RECV armed for every read (Netty 4.2.18 without a ring). Half the submissions and
     * completions per message; the kernel picks the buffer at receive time, so an idle socket holds none.
     * Needs kernel 5.19+ (ring registration). Opt-in with {@value #BUFFER_RING}=true: 0.74 of PgBouncer's CPU per
     * transaction against about 0.82 without (bench/race, README), but ServerOutageIT's backend kill under load
     * reported a leaked receive buffer in 1 of 4, then 1 of 6 runs with it (a client's frames, scanned, a reference left
     * somewhere), never without it; it stays off by default until that is found.
     */
    static boolean bufferRingWanted() {
        if (!Boolean.getBoolean(BUFFER_RING)) {
            return false;
        }
        if (!IoUring.isRegisterBufferRingSupported()) {
            log.info("io_uring_buffer_ring unavailable=\"kernel cannot register a provided buffer ring\"");
            return false;
        }
        return true;
    }

    private static IoUringIoHandlerConfig withBufferRing() {
        IoUringBufferRingConfig ring = IoUringBufferRingConfig.builder()
                .bufferGroupId(BUFFER_GROUP)
                .bufferRingSize(BUFFER_RING_ENTRIES)
                .batchSize(BUFFER_RING_BATCH)
                // Netty's default where the kernel has it (6.12+) is incremental: one 16 KiB buffer takes many
                // receives, of any socket, and is released only when full or at shutdown, so one slice held
                // anywhere pins all of it and a leak report names every socket that shared it. One buffer per
                // receive keeps the ownership the other transports have.
                .incremental(false)
                .allocator(new IoUringFixedBufferRingAllocator(ByteBufAllocator.DEFAULT, BUFFER_SIZE))
                .build();
        return new IoUringIoHandlerConfig().setBufferRingConfig(ring);
    }

    /** Whether this group's io_uring sockets read from the loops' provided buffer rings. */
    public boolean bufferRing() {
        return bufferRing;
    }

    /** Has the sockets clients connect on read from the loop's buffer ring, where there is one. */
    public void readFromRing(ServerBootstrap b) {
        if (bufferRing) {
            b.childOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, BUFFER_GROUP);
        }
    }

    /** Has the sockets Turnout opens to PostgreSQL read from the loop's buffer ring, where there is one. */
    public void readFromRing(Bootstrap b) {
        if (bufferRing) {
            b.option(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, BUFFER_GROUP);
        }
    }

    /** The transport running: IO_URING, EPOLL or NIO (never AUTO). */
    public Transport kind() {
        return kind;
    }

    public MultiThreadIoEventLoopGroup group() {
        return group;
    }

    public List<EventLoop> loops() {
        return loops;
    }

    public int size() {
        return loops.size();
    }

    /** The fixed index of a loop of this group. */
    public int index(EventExecutor loop) {
        return indexes.get(loop);
    }

    public Class<? extends ServerChannel> serverChannel() {
        return switch (kind) {
            case IO_URING -> IoUringServerSocketChannel.class;
            case EPOLL -> EpollServerSocketChannel.class;
            default -> NioServerSocketChannel.class;
        };
    }

    public Class<? extends SocketChannel> socketChannel() {
        return switch (kind) {
            case IO_URING -> IoUringSocketChannel.class;
            case EPOLL -> EpollSocketChannel.class;
            default -> NioSocketChannel.class;
        };
    }

    /**
     * Runs {@code perLoop} on every loop (with the loop's index) and completes with the results in loop
     * order: how state owned by the loops is read without locks.
     */
    public <T> java.util.concurrent.CompletableFuture<List<T>> collect(java.util.function.IntFunction<T> perLoop) {
        List<java.util.concurrent.CompletableFuture<T>> parts = new ArrayList<>(loops.size());
        for (int i = 0; i < loops.size(); i++) {
            int index = i;
            java.util.concurrent.CompletableFuture<T> part = new java.util.concurrent.CompletableFuture<>();
            try {
                loops.get(i).execute(() -> {
                    try {
                        part.complete(perLoop.apply(index));
                    } catch (Throwable t) {
                        part.completeExceptionally(t);
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                part.completeExceptionally(e); // shutting down
            }
            parts.add(part);
        }
        return java.util.concurrent.CompletableFuture.allOf(parts.toArray(new java.util.concurrent.CompletableFuture[0]))
                .thenApply(v -> parts.stream().map(java.util.concurrent.CompletableFuture::join).toList());
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
