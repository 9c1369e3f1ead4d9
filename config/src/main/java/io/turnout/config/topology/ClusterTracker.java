package io.turnout.config.topology;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a watcher knows about one Patroni cluster, whatever the DCS: it turns "the leader key names X and
 * X's member value is V" (or "there is no leader key", or "the DCS cannot be read") into the next
 * {@link ClusterState}, logs each real change as {@code <dcs>_leader_changed ...} and publishes it. Consul
 * and etcd differ only in how they read the keys. Not thread-safe: the source's loop thread owns it.
 *
 * <p>Patroni's failover and config keys are laid over what the leader key says (see {@link SwitchoverView}):
 * a due switchover request that demotes the leader publishes {@link ClusterState.Status#DRAINING}, and in
 * maintenance mode a vanished leader key keeps the last leader.
 */
final class ClusterTracker {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterTracker.class);

    private final String dcs;
    private final String scope;
    /** {@code <ns>/<scope>/} as the DCS spells it (etcd's with a leading slash): for error texts. */
    private final String keyPrefix;
    private final Consumer<ClusterState> publish;
    private final ScheduledExecutorService timers;
    /** What the leader and member keys say. */
    private ClusterState state;
    /** What was published: {@link #state} with the switchover view laid over it. */
    private ClusterState published;
    private final SwitchoverView view;
    private ScheduledFuture<?> dueTimer;

    ClusterTracker(String dcs, String scope, String keyPrefix, ClusterState initial, Consumer<ClusterState> publish,
            ScheduledExecutorService timers, boolean confirmClears) {
        this.dcs = dcs;
        this.scope = scope;
        this.keyPrefix = keyPrefix;
        this.state = initial;
        this.published = initial;
        this.publish = publish;
        this.timers = timers;
        this.view = new SwitchoverView(dcs, scope, confirmClears);
    }

    ClusterState state() {
        return state;
    }

    /** The failover key's value (null: absent); applied with the next {@link #republish} or key read. */
    void failoverValue(String value) {
        view.failover(value, Instant.now());
    }

    /** The pending request's candidate whose member key is still to be read, or null. */
    String unreadCandidate() {
        return view.candidateKnown() ? null : view.candidate();
    }

    /** The candidate's member value (null: missing); applied with the next {@link #republish} or key read. */
    void candidateMember(String name, String memberValue) {
        view.candidateMember(name, memberValue);
    }

    /** The config key's value (null: absent); applied with the next {@link #republish} or key read. */
    void configValue(String value) {
        view.config(value);
    }

    /** True while a cleared switchover request waits for the leader key to be read again (Consul). */
    boolean awaitingLeaderRead() {
        return view.awaitingLeaderRead();
    }

    /** Publishes the state again with the failover and config keys as last set (Consul: they changed). */
    void republish() {
        // one instant for both: "not due yet" and "nothing to wait for" must not both hold, or no timer is left
        Instant now = Instant.now();
        ClusterState next = view.apply(state, now);
        scheduleDue(now);
        if (!next.sameAs(published)) {
            ClusterState prev = published;
            published = next;
            if (next.draining() != prev.draining()) {
                if (next.draining()) {
                    LOG.info("{}_switchover_draining scope={} leader={} candidate={}", dcs, scope, next.leaderName(),
                            next.candidate());
                } else {
                    LOG.info("{}_switchover_draining_ended scope={} state={}", dcs, scope, next);
                }
            }
            publish.accept(next);
        }
    }

    private void dueNow() {
        try {
            republish();
        } catch (RuntimeException e) {
            // a scheduled task's exception would vanish silently
            LOG.error("{}_internal_error scope={}", dcs, scope, e);
        }
    }

    /** A switchover scheduled for later: look again when it is due, so draining starts on time. */
    private void scheduleDue(Instant now) {
        if (dueTimer != null) {
            dueTimer.cancel(false);
            dueTimer = null;
        }
        Duration wait = view.untilDue(now);
        if (wait != null && timers != null && !timers.isShutdown()) {
            try {
                // rounded up: a timer that fires early only finds the request not due and sets itself again
                dueTimer = timers.schedule(this::dueNow, wait.toNanos() + 1_000_000, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException e) {
                // the source is closing
            }
        }
    }

    /** The leader key is absent or empty: published at once, the proxy must stop using the old leader. */
    void noLeader(long index) {
        view.leaderRead();
        set(ClusterState.noLeader(scope, Instant.now(), index));
    }

    /**
     * The leader key names {@code name}, whose member key holds {@code memberValue} (null: the key is
     * missing). Returns false when that value cannot be used; the watcher reads it again later.
     */
    boolean leader(String name, String memberValue, long index) {
        view.leaderRead();
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
        } else if (!state.stale()) {
            set(state.asStale(error, now));
        }
        // already stale: the first failure's words stay (a retry failing with other words, a refusal then a
        // timeout under load, is no news to publish)
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
        view.leaderSeen(next);
        if (next.sameAs(state)) {
            republish(); // the leader keys say nothing new, but the failover view may
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
        republish();
    }
}
