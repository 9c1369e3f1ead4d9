package io.turnout.config.topology;

import java.time.Instant;
import java.util.Objects;

/**
 * What is known about one Patroni cluster (scope): its leader, and how fresh that knowledge is.
 *
 * <p>{@link #leader()} is non-null exactly when {@link #status()} is {@link Status#LEADER} or
 * {@link Status#DRAINING}; every status but LEADER means "no primary to send new transactions to", and the
 * proxy holds them. {@link #stale()}
 * says the DCS could not be read lately, so the state is the last one seen; the proxy keeps using it.
 *
 * @param leaderName Patroni member name in the leader key (null when none)
 * @param role the leader member's role as Patroni wrote it (master, primary, promoted, demoted,
 *        standby_leader, replica while still promoting...) or null
 * @param timeline the leader's timeline, 0 when Patroni did not report one
 * @param lastError why the latest read failed or could not be used (null when it succeeded)
 * @param since when this state last changed in value (not merely re-read)
 * @param index the DCS index (Consul X-Consul-Index, etcd revision) of the read that produced it
 * @param candidate the member a pending Patroni switchover promotes (failover key), or null
 * @param candidateEndpoint where {@code candidate} listens (its member key's conn_url), or null when unknown:
 *        the proxy connects there while the leader drains, and uses it once it leaves recovery
 * @param drainingSince when the switchover began to drain the leader ({@link Status#DRAINING}), else null
 * @param paused Patroni's maintenance mode ({@code pause: true} in the config key): a missing leader key
 *        then keeps the last leader, since Patroni does not fail over while paused
 */
public record ClusterState(
        String scope,
        Status status,
        String leaderName,
        Endpoint leader,
        String role,
        long timeline,
        boolean stale,
        String lastError,
        Instant since,
        long index,
        String candidate,
        Endpoint candidateEndpoint,
        Instant drainingSince,
        boolean paused) {

    /** Where a cluster stands; {@link #UNKNOWN} and {@link #NO_LEADER} are deliberately distinct. */
    public enum Status {
        /** Not read yet (just watched, or the DCS has been unreachable since). */
        UNKNOWN,
        /** The leader key is absent: a switchover or failover is under way, or the cluster has no primary. */
        NO_LEADER,
        /** The leader key names a member whose data is missing or unreadable; {@code lastError} says which. */
        UNRESOLVED,
        /** Leader and its endpoint are known. */
        LEADER,
        /**
         * A switchover demotes the leader ({@code leaderName}) soon: no new transaction starts on it (held as
         * with {@link #NO_LEADER}), running ones finish, and it is not fenced.
         */
        DRAINING
    }

    public ClusterState {
        Objects.requireNonNull(scope, "scope");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(since, "since");
        // DRAINING keeps the old leader's endpoint: a refused or timed-out switchover goes back to it
        if ((status == Status.LEADER || status == Status.DRAINING) != (leader != null)) {
            throw new IllegalArgumentException("a leader endpoint goes with status LEADER or DRAINING only: " + status
                    + " " + leader);
        }
    }

    /** The state without switchover or maintenance-mode details (what the leader and member keys say). */
    ClusterState(String scope, Status status, String leaderName, Endpoint leader, String role, long timeline,
            boolean stale, String lastError, Instant since, long index) {
        this(scope, status, leaderName, leader, role, timeline, stale, lastError, since, index, null, null, null, false);
    }

    public static ClusterState unknown(String scope, Instant now) {
        return new ClusterState(scope, Status.UNKNOWN, null, null, null, 0, false, null, now, 0);
    }

    public static ClusterState noLeader(String scope, Instant now, long index) {
        return new ClusterState(scope, Status.NO_LEADER, null, null, null, 0, false, null, now, index);
    }

    public static ClusterState leader(String scope, String name, PatroniMember member, Instant now, long index) {
        return new ClusterState(scope, Status.LEADER, name, member.endpoint(), member.role(), member.timeline(),
                false, null, now, index);
    }

    public static ClusterState unresolved(String scope, String name, String error, Instant now, long index) {
        return new ClusterState(scope, Status.UNRESOLVED, name, null, null, 0, false, error, now, index);
    }

    /** This leader state drained for a switchover to {@code candidate} (null: Patroni picks one) since {@code at}. */
    public ClusterState draining(String candidate, Instant at) {
        return new ClusterState(scope, Status.DRAINING, leaderName, leader, role, timeline, stale, lastError, since,
                index, candidate, candidateEndpoint, at, paused);
    }

    /** This draining state given up (switchover_hold_timeout): the old leader serves again. */
    public ClusterState undrained() {
        return status != Status.DRAINING ? this : new ClusterState(scope, Status.LEADER, leaderName, leader, role,
                timeline, stale, lastError, since, index, candidate, candidateEndpoint, null, paused);
    }

    /** The same state with Patroni's maintenance mode and a pending switchover's candidate (and its endpoint) noted. */
    public ClusterState withSwitchoverInfo(String candidate, Endpoint candidateEndpoint, boolean paused, String error) {
        return new ClusterState(scope, status, leaderName, leader, role, timeline, stale, error, since, index,
                candidate, candidateEndpoint, drainingSince, paused);
    }

    /**
     * Where new servers connect while no leader takes transactions because a switchover (or failover) request
     * names a candidate: its endpoint while the leader drains or the leader key is gone, else null. A server
     * there is used only once it leaves recovery, which Patroni lets it do only after the old leader stopped.
     */
    public Endpoint switchoverTarget() {
        return (status == Status.DRAINING || status == Status.NO_LEADER) && candidate != null ? candidateEndpoint : null;
    }

    /** True while a switchover drains the leader: hold new transactions, but do not fence running ones. */
    public boolean draining() {
        return status == Status.DRAINING;
    }

    /** True when new transactions may go to the leader endpoint (known, stale or not; not draining). */
    public boolean hasLeader() {
        return status == Status.LEADER;
    }

    /** The same cluster, marked as read from an unreachable or failing DCS; the last leader is kept. */
    public ClusterState asStale(String error, Instant now) {
        ClusterState s = new ClusterState(scope, status, leaderName, leader, role, timeline, true, error, since, index,
                candidate, candidateEndpoint, drainingSince, paused);
        return sameAs(s) ? this : s.changedAt(now);
    }

    /**
     * Equal in everything a consumer acts on: {@code since} and {@code index} are left out, because a
     * re-read that returns the same leader at a newer index is not a change.
     */
    public boolean sameAs(ClusterState o) {
        return o != null && scope.equals(o.scope) && status == o.status && Objects.equals(leaderName, o.leaderName)
                && Objects.equals(leader, o.leader) && Objects.equals(role, o.role) && timeline == o.timeline
                && stale == o.stale && Objects.equals(lastError, o.lastError)
                && Objects.equals(candidate, o.candidate) && Objects.equals(candidateEndpoint, o.candidateEndpoint)
                && Objects.equals(drainingSince, o.drainingSince)
                && paused == o.paused;
    }

    /** True when the leader differs in a way that needs a retarget (not merely stale or error text). */
    public boolean leaderDiffers(ClusterState o) {
        return o == null || status != o.status || !Objects.equals(leader, o.leader)
                || !Objects.equals(leaderName, o.leaderName);
    }

    ClusterState changedAt(Instant now) {
        return new ClusterState(scope, status, leaderName, leader, role, timeline, stale, lastError, now, index,
                candidate, candidateEndpoint, drainingSince, paused);
    }

    @Override
    public String toString() {
        return scope + "[" + status + (leaderName != null ? " " + leaderName : "") + (leader != null ? " " + leader : "")
                + (role != null ? " role=" + role : "") + (timeline != 0 ? " tl=" + timeline : "")
                + (candidate != null ? " candidate=" + candidate : "")
                + (candidateEndpoint != null ? " candidate_at=" + candidateEndpoint : "") + (paused ? " PAUSED" : "")
                + (stale ? " STALE" : "") + (lastError != null ? " error=" + lastError : "") + " index=" + index + "]";
    }
}
