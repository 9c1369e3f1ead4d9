package io.turnout.proxy;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.turnout.config.NetworkSettings;
import io.turnout.proxy.admin.Snapshot;
import io.turnout.proxy.admin.SnapshotCollector;
import io.turnout.proxy.client.ClientHandler;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.PoolShard;
import io.turnout.proxy.pool.Pools;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a Turnout stops: at once (SHUTDOWN, a second SIGTERM), once every server is back (SHUTDOWN
 * WAIT_FOR_SERVERS), or draining (SIGTERM, SHUTDOWN WAIT_FOR_CLIENTS) so that a load balancer in front
 * moves clients to the twin instance without one failed transaction.
 */
final class Shutdown {
    private static final Logger log = LoggerFactory.getLogger(Shutdown.class);

    private final Supplier<NetworkSettings> network;
    private final Supplier<Channel> listener;
    private final Pools pools;
    private final SnapshotCollector snapshots;
    private final EventLoop loop;
    private final Runnable close;
    private volatile boolean started;
    private volatile boolean draining;

    Shutdown(Supplier<NetworkSettings> network, Supplier<Channel> listener, Pools pools, SnapshotCollector snapshots,
             EventLoop loop, Runnable close) {
        this.network = network;
        this.listener = listener;
        this.pools = pools;
        this.snapshots = snapshots;
        this.loop = loop;
        this.close = close;
    }

    /** True from the first shutdown or drain request on: /ready fails. */
    boolean started() {
        return started;
    }

    void markStopping() {
        started = true;
    }

    /** SHUTDOWN with mode "", WAIT_FOR_SERVERS or WAIT_FOR_CLIENTS. */
    void shutdown(String mode) {
        started = true;
        log.info("turnout_shutdown mode={}", mode.isEmpty() ? "immediate" : mode);
        if (mode.isEmpty()) {
            stopNow();
        } else if (mode.equals("WAIT_FOR_CLIENTS")) {
            drain();
        } else {
            listener.get().close();
            pools.setAllPaused(true);
            stopWhen(s -> s.servers().stream().allMatch(i -> i.state().equals("idle")));
        }
    }

    /**
     * Graceful drain: /ready fails at once so the load balancer stops sending clients, connections are
     * still accepted for drain_accept_delay (its deregistration delay), then the listener closes;
     * connected clients keep working until they leave or drain_timeout, servers no client needs any
     * more close, and Turnout stops once no client is left.
     */
    void drain() {
        if (draining) {
            return;
        }
        draining = true;
        started = true;
        NetworkSettings n = network.get();
        long deadline = System.nanoTime() + n.drainTimeout().toNanos();
        log.info("turnout_draining accept_delay_ms={} drain_timeout_s={}", n.drainAcceptDelay().toMillis(),
                n.drainTimeout().toSeconds());
        loop.schedule(() -> {
            listener.get().close();
            log.info("turnout_listener_closed reason=drain");
            drainStep(deadline);
        }, n.drainAcceptDelay().toMillis(), TimeUnit.MILLISECONDS);
    }

    private void drainStep(long deadline) {
        snapshots.collect().whenComplete((snap, error) -> {
            if (error != null || snap.clients().stream().allMatch(i -> i.admin())) {
                stopNow();
                return;
            }
            closeUnneededServers(snap);
            if (System.nanoTime() - deadline > 0) {
                log.warn("turnout_drain_timeout clients_closed={}", snap.clients().stream().filter(i -> !i.admin()).count());
                snapshots.act(i -> !i.server() && !i.admin(), h -> ((ClientHandler) h)
                        .kill("Turnout is shutting down (drain_timeout reached)"));
                loop.schedule(this::stopNow, 200, TimeUnit.MILLISECONDS);
                return;
            }
            loop.schedule(() -> drainStep(deadline), 100, TimeUnit.MILLISECONDS);
        });
    }

    /** While draining, a pool whose clients are all gone keeps no idle server. */
    private void closeUnneededServers(Snapshot snap) {
        for (Pool p : pools.all()) {
            if (snap.clients().stream().noneMatch(i -> i.pool() == p)) {
                for (PoolShard shard : p.allShards()) {
                    shard.loop().execute(shard::closeIdle);
                }
            }
        }
    }

    private void stopWhen(Predicate<Snapshot> done) {
        snapshots.collect().whenComplete((snap, error) -> {
            if (error != null || done.test(snap)) {
                stopNow();
            } else {
                loop.schedule(() -> stopWhen(done), 100, TimeUnit.MILLISECONDS);
            }
        });
    }

    /** close() waits for the event loops, so it never runs on one. */
    private void stopNow() {
        new Thread(close, "turnout-shutdown").start();
    }
}
