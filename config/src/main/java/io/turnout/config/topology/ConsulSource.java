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
    /**
     * Each watched scope's failover and config keys (switchover requests, maintenance mode) and, for scopes
     * whose members are watched, their members prefix and status / optime/leader keys.
     */
    private final List<ConsulWatch> keyWatches = new ArrayList<>();
    private final Map<String, MemberTracker> memberTrackers = new LinkedHashMap<>();
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
        loop.execute(() -> watchLeader(scope));
    }

    @Override
    public void watchMembers(String scope) {
        TopologySource.checkScope(scope);
        loop.execute(() -> {
            watchLeader(scope);
            if (publisher.closed() || memberTrackers.containsKey(scope)) {
                return;
            }
            MemberTracker t = new MemberTracker("consul", scope, publisher::publishMembers);
            memberTrackers.put(scope, t);
            List<ConsulWatch> added = List.of(
                    new MembersWatch(http, loop.executor(), config.namespace(), scope, config.waitTime(), MIN_INTERVAL,
                            t),
                    keyWatch(scope, PatroniKeys.STATUS, v -> {
                        t.status(v);
                        t.publish();
                    }),
                    keyWatch(scope, PatroniKeys.LEADER_OPTIME, v -> {
                        t.legacyOptime(v);
                        t.publish();
                    }));
            keyWatches.addAll(added);
            if (publisher.started()) {
                added.forEach(ConsulWatch::start);
            }
        });
    }

    /** Adds the leader, failover and config watches of {@code scope} (loop thread). */
    private void watchLeader(String scope) {
        if (publisher.closed() || watches.containsKey(scope)) {
            return;
        }
        ClusterState initial = ClusterState.unknown(scope, Instant.now());
        LeaderWatch w = new LeaderWatch(http, loop.executor(), config.namespace(), scope, config.waitTime(),
                MIN_INTERVAL, initial, publisher::publish);
        watches.put(scope, w);
        ClusterTracker tracker = w.tracker();
        List<ScopeKeyWatch> keys = List.of(
                keyWatch(scope, PatroniKeys.FAILOVER, v -> {
                    tracker.failoverValue(v);
                    tracker.republish();
                    if (tracker.awaitingLeaderRead()) {
                        w.readNow();
                    }
                    readCandidate(scope, tracker);
                }),
                keyWatch(scope, PatroniKeys.CONFIG, v -> {
                    tracker.configValue(v);
                    tracker.republish();
                }));
        keyWatches.addAll(keys);
        publisher.publish(initial);
        if (publisher.started()) {
            w.start();
            keys.forEach(ConsulWatch::start);
        }
    }

    /**
     * A request naming a candidate: one read of its member key, so the proxy can connect to it while the leader
     * drains. Not part of a watch's chain; a failed read only leaves the candidate's endpoint unknown (the
     * proxy then connects once the leader key names it).
     */
    private void readCandidate(String scope, ClusterTracker tracker) {
        String name = tracker.unreadCandidate();
        if (name == null) {
            return;
        }
        http.get(PatroniKeys.memberKey(config.namespace(), scope, name), "", ConsulWatch.READ_TIMEOUT)
                .whenCompleteAsync((r, error) -> {
                    if (publisher.closed() || error != null || (r.status() != 200 && r.status() != 404)
                            || !name.equals(tracker.unreadCandidate())) {
                        return;
                    }
                    try {
                        tracker.candidateMember(name, r.status() == 404 ? null : ConsulKv.singleValue(r.body()));
                        tracker.republish();
                    } catch (IOException e) {
                        LOG.warn("consul_candidate_unreadable scope={} candidate={} error=\"{}\"", scope, name,
                                e.getMessage());
                    }
                }, loop.executor());
    }

    private ScopeKeyWatch keyWatch(String scope, String name, java.util.function.Consumer<String> onChange) {
        return new ScopeKeyWatch(http, loop.executor(), PatroniKeys.scopeKey(config.namespace(), scope, name),
                config.waitTime(), MIN_INTERVAL, onChange);
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
