package io.turnout.config.topology;

import io.turnout.config.EtcdConfig;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Patroni clusters in etcd v3 (Patroni's {@code etcd3} DCS), read through etcd's JSON gateway with the JDK
 * HTTP client, publishing the same {@link ClusterState}s as {@link ConsulSource} from the same parser.
 *
 * <p>One watch stream on the whole namespace prefix ({@code /service/}) rather than one per scope: it costs
 * one connection however many shards there are, a scope added by {@link #watch} at runtime is answered from
 * the mirror at once (no read, no new stream), and {@link #discover} needs nothing more, since every scope's
 * keys pass by anyway. The price is that every member's loop_wait rewrite of every cluster in the namespace
 * arrives here; {@link EtcdMirror} files those with one map put and no JSON parsing unless the member leads a
 * watched scope, which is far cheaper than a stream (and a connection to the etcd server) per shard.
 *
 * <p>Everything runs on one daemon thread ({@code turnout-etcd-N}); the listener too.
 */
public final class EtcdSource implements TopologySource {
    private static final Logger LOG = LoggerFactory.getLogger(EtcdSource.class);

    private final EtcdConfig config;
    private final EtcdHttp http;
    private final String prefix;
    private final SourceLoop loop = new SourceLoop("etcd");
    private final TopologyPublisher publisher = new TopologyPublisher("etcd");
    private final EtcdMirror mirror;
    private final EtcdWatch stream;
    // loop thread only
    private final Map<String, ClusterTracker> trackers = new LinkedHashMap<>();
    private final Map<String, MemberTracker> memberTrackers = new LinkedHashMap<>();
    private boolean discover;
    /** The mirror has been read at least once. */
    private boolean loaded;
    private long revision;
    /** Why etcd cannot be read right now; null while it can. */
    private String outage;

    /** Builds the HTTP client (TLS material is read here) without contacting etcd yet. */
    public EtcdSource(EtcdConfig config) throws IOException, GeneralSecurityException {
        this(config, EtcdWatch.PROBE_IDLE);
    }

    /** With another silence limit before etcd is probed (tests of a frozen etcd). */
    EtcdSource(EtcdConfig config, Duration probeIdle) throws IOException, GeneralSecurityException {
        this.config = config;
        this.http = new EtcdHttp(config);
        this.prefix = "/" + PatroniKeys.normalizeNamespace(config.namespace()) + "/";
        this.mirror = new EtcdMirror(prefix);
        this.stream = new EtcdWatch(http, loop.executor(), prefix, mirror, new StreamListener(), probeIdle);
    }

    @Override
    public String kind() {
        return "etcd";
    }

    @Override
    public void start(Consumer<Topology> listener) {
        loop.execute(() -> {
            if (publisher.start(listener)) {
                LOG.info("etcd_start urls={} prefix={} user={} scopes={} discover={}", config.urls(), prefix,
                        config.username(), trackers.keySet(), discover);
                stream.start();
            }
        });
    }

    @Override
    public void watch(String scope) {
        TopologySource.checkScope(scope);
        loop.execute(() -> {
            if (publisher.closed() || trackers.containsKey(scope)) {
                return;
            }
            ClusterState initial = ClusterState.unknown(scope, Instant.now());
            ClusterTracker t = new ClusterTracker("etcd", scope, prefix + scope + "/", initial, publisher::publish,
                    loop.executor(), false);
            trackers.put(scope, t);
            publisher.publish(initial);
            if (loaded) {
                resolve(t);
                if (outage != null) {
                    t.unreachable(outage, null);
                }
            }
        });
    }

    @Override
    public void watchMembers(String scope) {
        watch(scope);
        loop.execute(() -> {
            if (publisher.closed() || memberTrackers.containsKey(scope)) {
                return;
            }
            MemberTracker t = new MemberTracker("etcd", scope, publisher::publishMembers);
            memberTrackers.put(scope, t);
            if (loaded) {
                resolveMembers(scope, t);
            }
        });
    }

    @Override
    public void discover() {
        loop.execute(() -> {
            if (publisher.closed() || discover) {
                return;
            }
            discover = true;
            if (loaded) {
                publisher.publishScopes(mirror.scopes());
            }
        });
    }

    @Override
    public Topology current() {
        return publisher.current();
    }

    @Override
    public void close() {
        if (publisher.close()) {
            loop.shutdown(stream::stop);
            http.close();
        }
    }

    /** What the watch stream reports, applied to the watched scopes (the loop thread calls it). */
    private final class StreamListener implements EtcdWatch.Listener {
        @Override
        public void refreshed(long rev) {
            revision = rev;
            loaded = true;
            outage = null;
            trackers.values().forEach(EtcdSource.this::resolve);
            mirror.takeMembersChanged();
            memberTrackers.forEach(EtcdSource.this::resolveMembers);
            publishScopesIfChanged();
        }

        @Override
        public void changed(Set<String> scopes, long rev) {
            revision = rev;
            for (String s : scopes) {
                ClusterTracker t = trackers.get(s);
                if (t != null) {
                    resolve(t);
                }
            }
            for (String s : mirror.takeMembersChanged()) {
                MemberTracker t = memberTrackers.get(s);
                if (t != null) {
                    resolveMembers(s, t);
                }
            }
            publishScopesIfChanged();
        }

        @Override
        public void unreachable(String error) {
            outage = error;
            trackers.values().forEach(t -> t.unreachable(error, null));
        }
    }

    /** The scope's state from the mirror: no leader key, or the leader and its member value. */
    private void resolve(ClusterTracker t) {
        String scope = t.state().scope();
        t.failoverValue(mirror.text(scope, PatroniKeys.FAILOVER));
        String candidate = t.unreadCandidate();
        if (candidate != null) {
            t.candidateMember(candidate, mirror.member(scope, candidate)); // where to connect ahead of the promotion
        }
        t.configValue(mirror.text(scope, PatroniKeys.CONFIG));
        String name = mirror.leader(scope);
        if (name == null) {
            t.noLeader(revision);
        } else {
            // a bad or missing member value needs no retry timer here: its next write arrives on the stream
            t.leader(name, mirror.member(scope, name), revision);
        }
    }

    /** The scope's members and leader LSN from the mirror (parsed only where a value changed). */
    private void resolveMembers(String scope, MemberTracker t) {
        t.members(mirror.members(scope));
        t.status(mirror.text(scope, PatroniKeys.STATUS));
        t.legacyOptime(mirror.text(scope, PatroniKeys.LEADER_OPTIME));
        t.publish();
    }

    private void publishScopesIfChanged() {
        if (mirror.takeScopesChanged() && discover) {
            publisher.publishScopes(mirror.scopes());
        }
    }
}
