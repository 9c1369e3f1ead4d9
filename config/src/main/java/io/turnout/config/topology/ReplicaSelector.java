package io.turnout.config.topology;

import io.turnout.config.ReadRouting;
import io.turnout.config.TargetSessionAttrs;
import java.util.ArrayList;
import java.util.List;

/**
 * Which members of a shard a database's new transactions may go to, from its {@link ReadRouting} and the
 * shard's latest {@link ClusterState} and {@link ShardMembers}. Pure: the proxy calls it on each topology
 * snapshot and keeps one pool per member it returns.
 *
 * <p>A standby is eligible (Patroni's own {@code /replica} health check, from the DCS instead of the REST API)
 * when its role is {@code replica} (the spelling of Patroni 3 and 4 alike; they differ for the leader:
 * master/primary), its state is running (or "streaming", as {@code patronictl list} shows it), its
 * replication_state, when reported (Patroni 3.0.4+), is streaming, it is not tagged noloadbalance, it is not
 * the member the leader key names (a replica being promoted leaves the read pool at once), and its lag is
 * within max_replica_lag.
 */
public final class ReplicaSelector {
    private ReplicaSelector() {
    }

    /**
     * Where new transactions go.
     *
     * @param standbys eligible standbys, by name
     * @param leader true when the leader takes them as well (any) or instead (primary, read-write, and
     *        prefer-standby without an eligible standby); the leader path holds them while there is no leader
     */
    public record ReadRoute(List<PatroniMember> standbys, boolean leader) {
        public ReadRoute {
            standbys = List.copyOf(standbys);
        }

        /**
         * Nothing to send to (standby or read-only without an eligible standby): hold new transactions up to
         * failover_hold_timeout, then fail them with 08006 naming the shard.
         */
        public boolean hold() {
            return standbys.isEmpty() && !leader;
        }
    }

    /** The route for a database with {@code routing} on a shard; {@code cluster} null means not read yet. */
    public static ReadRoute route(ReadRouting routing, ClusterState cluster, ShardMembers members) {
        TargetSessionAttrs target = routing.targetSessionAttrs();
        if (target.leaderOnly()) {
            return new ReadRoute(List.of(), true);
        }
        List<PatroniMember> eligible = new ArrayList<>();
        String leaderName = cluster == null ? null : cluster.leaderName();
        for (PatroniMember m : members.members()) {
            if (whyNot(m, leaderName, members.lag(m), routing.maxReplicaLag()) == null) {
                eligible.add(m);
            }
        }
        boolean leader = switch (target) {
            case PREFER_STANDBY -> eligible.isEmpty();
            // the leader when there is one; the leader path (and its hold) when there is nothing at all
            case ANY -> (cluster != null && cluster.hasLeader()) || eligible.isEmpty();
            default -> false;
        };
        return new ReadRoute(eligible, leader);
    }

    /**
     * Why {@code m} takes no reads, for SHOW TOPOLOGY and logs; null when it is an eligible standby.
     *
     * @param leaderName the member the leader key names (null: none)
     * @param lag its lag in bytes, or {@link ShardMembers#LAG_UNKNOWN}
     * @param maxLag max_replica_lag in bytes ({@link ReadRouting#NO_LAG_LIMIT}: none)
     */
    public static String whyNot(PatroniMember m, String leaderName, long lag, long maxLag) {
        if (m.name().equals(leaderName)) {
            return "leader";
        }
        if (!"replica".equals(m.role())) {
            return "role " + m.role();
        }
        if (!"running".equals(m.state()) && !"streaming".equals(m.state())) {
            return "state " + m.state();
        }
        if (m.replicationState() != null && !"streaming".equals(m.replicationState())) {
            return "replication_state " + m.replicationState();
        }
        if (m.noLoadBalance()) {
            return "tagged noloadbalance";
        }
        // Patroni: lagging when leader_optime > replayed_location + lag; an unknown leader LSN never lags
        if (lag != ShardMembers.LAG_UNKNOWN && lag > maxLag) {
            return "lag " + lag + " > max_replica_lag " + maxLag;
        }
        return null;
    }
}
