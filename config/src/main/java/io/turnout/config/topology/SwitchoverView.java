package io.turnout.config.topology;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Patroni's failover and config keys of one cluster, laid over what its leader key says. A switchover
 * request (failover key) that demotes the current leader and is due turns LEADER into DRAINING: Patroni's
 * leader checks the candidate, runs a CHECKPOINT and stops PostgreSQL (fast) only after this key is written,
 * so a proxy that stops starting transactions on the leader now loses none to the shutdown. Maintenance mode
 * ({@code pause}) keeps the last leader when the leader key vanishes: Patroni does not fail over while paused,
 * so the key's expiry proves nothing about PostgreSQL. Not thread-safe: the tracker's loop thread owns it.
 */
final class SwitchoverView {
    private static final Logger LOG = LoggerFactory.getLogger(SwitchoverView.class);

    private final String dcs;
    private final String scope;
    private PatroniFailover failover;
    /** When the current failover request was first seen here: the age SHOW TOPOLOGY prints. */
    private Instant failoverSeen;
    private boolean paused;
    /** The last LEADER state the leader keys gave, kept for maintenance mode. */
    private ClusterState lastLeader;
    /**
     * Consul: the failover and leader keys are separate watches, so a request cleaned up by the new leader
     * (after it took the leader key) may be seen before the leader change. A cleared request keeps draining
     * until the leader key has been read again; only then does "same leader" mean refused. Likewise a cleared
     * request seen while the leader key is gone keeps its candidate (the proxy may be serving there already).
     */
    private final boolean confirmClears;
    /** The drain (or the leaderless wait for a candidate) a cleared request left, kept until the next leader read. */
    private ClusterState clearedDrain;
    private ClusterState lastApplied;
    /** The member whose endpoint {@link #candidateEndpoint} is (the request's candidate when it was read). */
    private String candidateName;
    private Endpoint candidateEndpoint;

    SwitchoverView(String dcs, String scope, boolean confirmClears) {
        this.dcs = dcs;
        this.scope = scope;
        this.confirmClears = confirmClears;
    }

    /** True while a cleared request waits for the leader key to be read again (Consul). */
    boolean awaitingLeaderRead() {
        return clearedDrain != null;
    }

    /** The leader key was read (whatever it said): a cleared request can be judged now. */
    void leaderRead() {
        clearedDrain = null;
    }

    void failover(String value, Instant now) {
        PatroniFailover next;
        try {
            next = PatroniFailover.parse(value);
        } catch (PatroniDataException e) {
            // Patroni itself ignores a value it cannot parse: so does the proxy, loudly
            LOG.warn("{}_failover_key_unusable scope={} error=\"{}\"", dcs, scope, e.getMessage());
            next = null;
        }
        if (Objects.equals(next, failover)) {
            return;
        }
        if (next == null && confirmClears && lastApplied != null
                && (lastApplied.draining() || lastApplied.switchoverTarget() != null)) {
            clearedDrain = lastApplied;
        }
        failover = next;
        failoverSeen = next == null ? null : now;
        if (next == null) {
            LOG.info("{}_failover_key scope={} request=none", dcs, scope);
        } else {
            LOG.info("{}_failover_key scope={} leader={} candidate={} scheduled_at={}", dcs, scope, next.leader(),
                    next.candidate(), next.scheduledAt());
        }
    }

    /** The request's candidate, or null: its member key should be read for {@link #candidateMember}. */
    String candidate() {
        return failover == null ? null : failover.candidate();
    }

    /** True when the candidate's endpoint is known (its member key was read since it became the candidate). */
    boolean candidateKnown() {
        return candidateEndpoint != null && Objects.equals(candidateName, candidate());
    }

    /**
     * The value of {@code name}'s member key (null: missing), read because a request names it: where the proxy
     * connects ahead of the promotion. A value that cannot be used only leaves the endpoint unknown.
     */
    void candidateMember(String name, String memberValue) {
        Endpoint at = null;
        if (memberValue != null) {
            try {
                at = PatroniKeys.member(name, memberValue).endpoint();
            } catch (PatroniDataException e) {
                LOG.warn("{}_candidate_unusable scope={} candidate={} error=\"{}\"", dcs, scope, name, e.getMessage());
            }
        }
        candidateName = name;
        candidateEndpoint = at;
    }

    void config(String value) {
        boolean p = PatroniFailover.paused(value);
        if (p != paused) {
            paused = p;
            LOG.info("{}_maintenance_mode scope={} paused={}", dcs, scope, p);
        }
    }

    void leaderSeen(ClusterState base) {
        if (base.status() == ClusterState.Status.LEADER) {
            lastLeader = base;
        }
    }

    /** What the proxy acts on: {@code base} with the switchover request and maintenance mode applied. */
    ClusterState apply(ClusterState base, Instant now) {
        lastApplied = view(base, now);
        return lastApplied;
    }

    private ClusterState view(ClusterState base, Instant now) {
        if (clearedDrain != null && base.status() == ClusterState.Status.LEADER
                && base.leaderName().equals(clearedDrain.leaderName())) {
            return base.withSwitchoverInfo(clearedDrain.candidate(), clearedDrain.candidateEndpoint(), paused,
                    base.lastError()).draining(clearedDrain.candidate(), clearedDrain.drainingSince());
        }
        if (clearedDrain != null && base.status() == ClusterState.Status.NO_LEADER) {
            return base.withSwitchoverInfo(clearedDrain.candidate(), clearedDrain.candidateEndpoint(), paused,
                    base.lastError());
        }
        ClusterState s = base;
        String error = base.lastError();
        if (paused && base.status() == ClusterState.Status.NO_LEADER && lastLeader != null) {
            s = lastLeader;
            error = "leader key missing in maintenance mode (pause): the last leader " + lastLeader.leaderName()
                    + " is kept";
        }
        String candidate = candidate();
        s = s.withSwitchoverInfo(candidate, candidateKnown() ? candidateEndpoint : null, paused, error);
        if (failover != null && s.status() == ClusterState.Status.LEADER && failover.demotes(s.leaderName())
                && !Objects.equals(candidate, s.leaderName()) && failover.due(now)) {
            Instant at = failover.scheduledAt() != null && failover.scheduledAt().isAfter(failoverSeen)
                    ? failover.scheduledAt() : failoverSeen;
            s = s.draining(candidate, at);
        }
        return s;
    }

    /** How long until a scheduled request becomes due, or null when there is nothing to wait for. */
    Duration untilDue(Instant now) {
        if (failover == null || failover.scheduledAt() == null || !now.isBefore(failover.scheduledAt())) {
            return null;
        }
        return Duration.between(now, failover.scheduledAt());
    }
}
