package io.turnout.config.topology;

import java.time.Instant;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a watcher knows about one Patroni cluster, whatever the DCS: it turns "the leader key names X and
 * X's member value is V" (or "there is no leader key", or "the DCS cannot be read") into the next
 * {@link ClusterState}, logs each real change as {@code <dcs>_leader_changed ...} and publishes it. Consul
 * and etcd differ only in how they read the keys. Not thread-safe: the source's loop thread owns it.
 */
final class ClusterTracker {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterTracker.class);

    private final String dcs;
    private final String scope;
    /** {@code <ns>/<scope>/} as the DCS spells it (etcd's with a leading slash): for error texts. */
    private final String keyPrefix;
    private final Consumer<ClusterState> publish;
    private ClusterState state;

    ClusterTracker(String dcs, String scope, String keyPrefix, ClusterState initial, Consumer<ClusterState> publish) {
        this.dcs = dcs;
        this.scope = scope;
        this.keyPrefix = keyPrefix;
        this.state = initial;
        this.publish = publish;
    }

    ClusterState state() {
        return state;
    }

    /** The leader key is absent or empty: published at once, the proxy must stop using the old leader. */
    void noLeader(long index) {
        set(ClusterState.noLeader(scope, Instant.now(), index));
    }

    /**
     * The leader key names {@code name}, whose member key holds {@code memberValue} (null: the key is
     * missing). Returns false when that value cannot be used; the watcher reads it again later.
     */
    boolean leader(String name, String memberValue, long index) {
        if (memberValue == null) {
            unusable(name, "member key " + keyPrefix + PatroniKeys.MEMBERS + name + " is missing", index);
            return false;
        }
        try {
            PatroniMember member = PatroniKeys.member(name, memberValue);
            set(ClusterState.leader(scope, name, member, Instant.now(), index));
            return true;
        } catch (PatroniDataException e) {
            unusable(name, e.getMessage(), index);
            return false;
        }
    }

    /**
     * The DCS could not be read: keep the last leader, marked stale. {@code pendingLeader} is a new leader
     * whose member key was being read when that failed (null if none): the old endpoint is wrong then.
     */
    void unreachable(String error, String pendingLeader) {
        Instant now = Instant.now();
        if (pendingLeader != null && !pendingLeader.equals(state.leaderName())) {
            set(ClusterState.unresolved(scope, pendingLeader, error, now, state.index()).asStale(error, now));
        } else {
            set(state.asStale(error, now));
        }
    }

    /**
     * The leader's member data cannot be used. Same leader as before: keep its endpoint and report the
     * error (Patroni rewrites the key within loop_wait). A new leader: publish it without an endpoint, so
     * the proxy holds transactions instead of sending them to the old one.
     */
    private void unusable(String name, String error, long index) {
        Instant now = Instant.now();
        if (state.hasLeader() && name.equals(state.leaderName())) {
            set(new ClusterState(scope, state.status(), name, state.leader(), state.role(), state.timeline(),
                    false, error, now, index));
        } else {
            set(ClusterState.unresolved(scope, name, error, now, index));
        }
    }

    private void set(ClusterState next) {
        if (next.sameAs(state)) {
            return;
        }
        ClusterState prev = state;
        state = next;
        if (next.leaderDiffers(prev)) {
            switch (next.status()) {
                case LEADER -> LOG.info("{}_leader_changed scope={} leader={} endpoint={} role={} timeline={} index={}",
                        dcs, scope, next.leaderName(), next.leader(), next.role(), next.timeline(), next.index());
                case NO_LEADER -> LOG.info("{}_no_leader scope={} previous={} index={}", dcs, scope, prev.leaderName(),
                        next.index());
                case UNRESOLVED -> LOG.warn("{}_leader_unresolved scope={} leader={} error={}", dcs, scope,
                        next.leaderName(), next.lastError());
                default -> LOG.info("{}_state scope={} state={}", dcs, scope, next);
            }
        } else if (next.stale() != prev.stale()) {
            LOG.info("{}_stale scope={} stale={} error={}", dcs, scope, next.stale(), next.lastError());
        } else if (!next.stale() && next.lastError() != null) {
            LOG.warn("patroni_member_unusable scope={} leader={} error={}", scope, next.leaderName(), next.lastError());
        }
        publish.accept(next);
    }
}
