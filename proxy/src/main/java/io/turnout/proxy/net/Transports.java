package io.turnout.proxy.net;

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
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The event loops and socket classes: native epoll when the platform has it (fewer copies, per-socket
 * TCP options), NIO otherwise. Each loop has a fixed index so pools can keep one shard per loop.
 */
public final class Transports implements AutoCloseable {
    private final boolean epoll;
    private final MultiThreadIoEventLoopGroup group;
    private final List<EventLoop> loops;
    private final Map<EventExecutor, Integer> indexes = new IdentityHashMap<>();

    public Transports(int threads) {
        this.epoll = Epoll.isAvailable() && !Boolean.getBoolean("turnout.nio");
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        this.group = new MultiThreadIoEventLoopGroup(n, new DefaultThreadFactory("turnout-loop", true), factory);
        List<EventLoop> all = new ArrayList<>();
        for (EventExecutor e : group) {
            indexes.put(e, all.size());
            all.add((EventLoop) e);
        }
        this.loops = List.copyOf(all);
    }

    public boolean isEpoll() {
        return epoll;
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
        return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public Class<? extends SocketChannel> socketChannel() {
        return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
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
