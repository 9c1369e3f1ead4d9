package io.turnout.config.topology;

import io.turnout.config.ConsulConfig;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

    private final ConsulConfig config;
    private final ConsulHttp http;
    private final SourceLoop loop = new SourceLoop("consul");
    private final TopologyPublisher publisher = new TopologyPublisher("consul");
    // loop thread only
    private final Map<String, LeaderWatch> watches = new LinkedHashMap<>();
    /** Each watched scope's failover and config keys (switchover requests, maintenance mode). */
    private final List<ScopeKeyWatch> keyWatches = new ArrayList<>();
    private ScopeDiscovery discovery;

    /** Builds the HTTP client (TLS material is read here) without contacting Consul yet. */
    public ConsulSource(ConsulConfig config) throws IOException, GeneralSecurityException {
        this.config = config;
        this.http = new ConsulHttp(config);
    }

    @Override
    public String kind() {
        return "consul";
    }

    @Override
    public void start(Consumer<Topology> newListener) {
        loop.execute(() -> {
            if (!publisher.start(newListener)) {
                return;
            }
            LOG.info("consul_start urls={} namespace={} scopes={} discover={}", config.urls(), config.namespace(),
                    watches.keySet(), discovery != null);
            watches.values().forEach(ConsulWatch::start);
            keyWatches.forEach(ConsulWatch::start);
            if (discovery != null) {
                discovery.start();
            }
        });
    }

    @Override
    public void watch(String scope) {
        TopologySource.checkScope(scope);
        loop.execute(() -> {
            if (publisher.closed() || watches.containsKey(scope)) {
                return;
            }
            ClusterState initial = ClusterState.unknown(scope, Instant.now());
            LeaderWatch w = new LeaderWatch(http, loop.executor(), config.namespace(), scope, config.waitTime(),
                    MIN_INTERVAL, initial, publisher::publish);
            watches.put(scope, w);
            List<ScopeKeyWatch> keys = List.of(
                    keyWatch(scope, PatroniKeys.FAILOVER, w.tracker(), ClusterTracker::failoverValue, () -> {
                        if (w.tracker().awaitingLeaderRead()) {
                            w.readNow();
                        }
                    }),
                    keyWatch(scope, PatroniKeys.CONFIG, w.tracker(), ClusterTracker::configValue, () -> { }));
            keyWatches.addAll(keys);
            publisher.publish(initial);
            if (publisher.started()) {
                w.start();
                keys.forEach(ConsulWatch::start);
            }
        });
    }

    private ScopeKeyWatch keyWatch(String scope, String name, ClusterTracker tracker, ScopeKeyWatch.Sink sink,
            Runnable afterChange) {
        return new ScopeKeyWatch(http, loop.executor(), PatroniKeys.scopeKey(config.namespace(), scope, name),
                config.waitTime(), MIN_INTERVAL, tracker, sink, afterChange);
    }

    @Override
    public void discover() {
        loop.execute(() -> {
            if (publisher.closed() || discovery != null) {
                return;
            }
            discovery = new ScopeDiscovery(http, loop.executor(), config.namespace(), config.waitTime(),
                    publisher::publishScopes);
            if (publisher.started()) {
                discovery.start();
            }
        });
    }

    @Override
    public Topology current() {
        return publisher.current();
    }

    @Override
    public void close() {
        if (!publisher.close()) {
            return;
        }
        loop.shutdown(() -> {
            watches.values().forEach(ConsulWatch::stop);
            keyWatches.forEach(ConsulWatch::stop);
            if (discovery != null) {
                discovery.stop();
            }
        });
        http.close();
    }
}
