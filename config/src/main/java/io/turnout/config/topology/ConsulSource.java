package io.turnout.config.topology;

import io.turnout.config.ConsulConfig;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Patroni clusters in Consul, watched with blocking queries over the JDK HTTP client. All watches share
 * one daemon loop thread ({@code turnout-consul-N}) and wait asynchronously, so a hundred shards cost a
 * hundred idle connections, not a hundred blocked threads. The listener runs on that loop thread.
 */
public final class ConsulSource implements TopologySource {
    private static final Logger LOG = LoggerFactory.getLogger(ConsulSource.class);
    /** Minimum gap between two queries of one leader key: bounds a misbehaving server, not a real change. */
    static final Duration MIN_INTERVAL = Duration.ofMillis(50);
    private static final AtomicInteger LOOPS = new AtomicInteger();

    private final ConsulConfig config;
    private final ConsulHttp http;
    private final ScheduledThreadPoolExecutor loop;
    private final AtomicReference<Thread> loopThread = new AtomicReference<>();
    // loop thread only
    private final Map<String, LeaderWatch> watches = new LinkedHashMap<>();
    private ScopeDiscovery discovery;
    private Consumer<Topology> listener;
    private boolean started;

    private volatile Topology current = Topology.EMPTY;
    private volatile boolean closed;

    /** Builds the HTTP client (TLS material is read here) without contacting Consul yet. */
    public ConsulSource(ConsulConfig config) throws IOException, GeneralSecurityException {
        this.config = config;
        this.http = new ConsulHttp(config);
        this.loop = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "turnout-consul-" + LOOPS.incrementAndGet());
            t.setDaemon(true);
            loopThread.set(t);
            return t;
        });
        loop.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        loop.setRemoveOnCancelPolicy(true);
    }

    @Override
    public void start(Consumer<Topology> newListener) {
        loop.execute(() -> {
            if (started || closed) {
                return;
            }
            started = true;
            listener = newListener;
            LOG.info("consul_start urls={} namespace={} scopes={} discover={}", config.urls(), config.namespace(),
                    watches.keySet(), discovery != null);
            if (current.version() > 0) {
                notifyListener(current); // scopes watched before start are already in the snapshot
            }
            watches.values().forEach(ConsulWatch::start);
            if (discovery != null) {
                discovery.start();
            }
        });
    }

    @Override
    public void watch(String scope) {
        if (scope == null || scope.isEmpty() || scope.indexOf('/') >= 0) {
            throw new IllegalArgumentException("bad Patroni scope '" + scope + "'");
        }
        loop.execute(() -> {
            if (closed || watches.containsKey(scope)) {
                return;
            }
            ClusterState initial = ClusterState.unknown(scope, Instant.now());
            LeaderWatch w = new LeaderWatch(http, loop, config.namespace(), scope, config.waitTime(), MIN_INTERVAL,
                    initial, this::publish);
            watches.put(scope, w);
            publish(initial);
            if (started) {
                w.start();
            }
        });
    }

    @Override
    public void discover() {
        loop.execute(() -> {
            if (closed || discovery != null) {
                return;
            }
            discovery = new ScopeDiscovery(http, loop, config.namespace(), config.waitTime(), this::publishScopes);
            if (started) {
                discovery.start();
            }
        });
    }

    @Override
    public Topology current() {
        return current;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        loop.execute(() -> {
            watches.values().forEach(ConsulWatch::stop);
            if (discovery != null) {
                discovery.stop();
            }
        });
        loop.shutdown();
        if (Thread.currentThread() != loopThread.get()) {
            // from a listener (the loop thread itself) waiting would only stall
            try {
                loop.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        http.close();
    }

    private void publish(ClusterState state) {
        Topology next = current.with(state);
        if (next != current) {
            current = next;
            notifyListener(next);
        }
    }

    private void publishScopes(Set<String> scopes) {
        Topology prev = current;
        Topology next = prev.withDiscovered(scopes);
        if (next != prev) {
            Set<String> added = new java.util.TreeSet<>(scopes);
            added.removeAll(prev.discoveredScopes());
            Set<String> removed = new java.util.TreeSet<>(prev.discoveredScopes());
            removed.removeAll(scopes);
            LOG.info("consul_scopes_discovered added={} removed={} total={}", added, removed, scopes.size());
            current = next;
            notifyListener(next);
        }
    }

    private void notifyListener(Topology t) {
        if (listener == null || closed) {
            return;
        }
        try {
            listener.accept(t);
        } catch (RuntimeException e) {
            LOG.error("topology_listener_failed version={}", t.version(), e);
        }
    }
}
