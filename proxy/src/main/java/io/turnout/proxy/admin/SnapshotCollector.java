package io.turnout.proxy.admin;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.group.ChannelGroup;
import io.turnout.proxy.client.ClientHandler;
import io.turnout.proxy.net.Transports;
import io.turnout.proxy.pool.ConnectionInfo;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.Pools;
import io.turnout.proxy.pool.StatsTotals;
import io.turnout.proxy.server.ServerHandler;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** Builds a {@link Snapshot}: one task per event loop copies what that loop owns, then the parts merge. */
public final class SnapshotCollector {
    private final Transports transports;
    private final ChannelGroup channels;
    private final Pools pools;

    public SnapshotCollector(Transports transports, ChannelGroup channels, Pools pools) {
        this.transports = transports;
        this.channels = channels;
        this.pools = pools;
    }

    public CompletableFuture<Snapshot> collect() {
        return transports.collect(this::onLoop).thenApply(Snapshot::merge);
    }

    /**
     * Runs {@code action} on every client ({@link ClientHandler}) or server ({@link ServerHandler})
     * that {@code which} selects, each on its own loop; completes with how many were selected.
     */
    public CompletableFuture<Integer> act(java.util.function.Predicate<ConnectionInfo> which,
                                          java.util.function.Consumer<ChannelHandler> action) {
        return transports.collect(index -> {
            var loop = transports.loops().get(index);
            int n = 0;
            for (Channel ch : channels) {
                if (ch.eventLoop() != loop) {
                    continue;
                }
                ChannelHandler h = ch.pipeline().last();
                ConnectionInfo info = h instanceof ClientHandler c ? c.info()
                        : h instanceof ServerHandler s ? ConnectionInfo.ofServer(s.server())
                        : null;
                if (info != null && which.test(info)) {
                    action.accept(h);
                    n++;
                }
            }
            return n;
        }).thenApply(counts -> counts.stream().mapToInt(Integer::intValue).sum());
    }

    /** Runs on loop {@code index}: its channels, and its shard of every pool. */
    private Snapshot onLoop(int index) {
        var loop = transports.loops().get(index);
        List<ConnectionInfo> clients = new ArrayList<>();
        List<ConnectionInfo> servers = new ArrayList<>();
        for (Channel ch : channels) {
            if (ch.eventLoop() != loop) {
                continue;
            }
            ChannelHandler h = ch.pipeline().last();
            if (h instanceof ClientHandler c) {
                ConnectionInfo info = c.info();
                if (info != null) {
                    clients.add(info);
                }
            } else if (h instanceof ServerHandler s) {
                ConnectionInfo info = ConnectionInfo.ofServer(s.server());
                if (info != null) {
                    servers.add(info);
                }
            }
        }
        Map<Pool, StatsTotals> stats = new LinkedHashMap<>();
        for (Pool p : pools.all()) {
            StatsTotals t = new StatsTotals();
            p.shard(loop).stats().copyInto(t);
            stats.put(p, t);
        }
        return new Snapshot(clients, servers, stats, System.nanoTime());
    }
}
