package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.LoadBalanceHosts;
import io.turnout.config.ReadRouting;
import io.turnout.config.TargetSessionAttrs;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Eligibility and routing decisions as tables: each row is a shard, a target_session_attrs and the outcome. */
class ReplicaSelectorTest {
    private static final long MB = 1024 * 1024;
    private static final long LEADER_LSN = 1000 * MB;

    private static PatroniMember member(String name, String role, String state, String replicationState, long behind,
            boolean noLoadBalance) {
        return new PatroniMember(name, new Endpoint("10.0.0." + name.charAt(name.length() - 1), 5432), role, state, 1,
                null, behind < 0 ? 0 : LEADER_LSN - behind, replicationState,
                noLoadBalance ? Map.of("noloadbalance", "true") : Map.of(), noLoadBalance);
    }

    private static final PatroniMember LEADER4 = member("m0", "primary", "running", null, 0, false);
    private static final PatroniMember LEADER3 = member("m0", "master", "running", null, 0, false);
    private static final PatroniMember STREAMING = member("m1", "replica", "running", "streaming", 1 * MB, false);
    private static final PatroniMember P302 = member("m2", "replica", "running", null, 2 * MB, false);
    private static final PatroniMember LAGGING = member("m3", "replica", "running", "streaming", 64 * MB, false);
    private static final PatroniMember ARCHIVE = member("m4", "replica", "running", "in archive recovery", 0, false);
    private static final PatroniMember STOPPED = member("m5", "replica", "stopped", null, -1, false);
    private static final PatroniMember NOLB = member("m6", "replica", "running", "streaming", 0, true);
    private static final PatroniMember PROMOTED = member("m7", "promoted", "running", null, 0, false);
    private static final PatroniMember CREATING = member("m8", "uninitialized", "creating replica", null, -1, false);
    private static final PatroniMember SHOWN_AS = member("m9", "replica", "streaming", null, 0, false);

    private static ClusterState leaderState(String name) {
        return ClusterState.leader("s", name, LEADER4, Instant.EPOCH, 1);
    }

    private static final ClusterState NO_LEADER = ClusterState.noLeader("s", Instant.EPOCH, 1);

    private static ReadRouting routing(TargetSessionAttrs t, long maxLag) {
        return new ReadRouting(t, maxLag, LoadBalanceHosts.ROUND_ROBIN);
    }

    private static ShardMembers shard(long leaderLsn, PatroniMember... members) {
        return new ShardMembers("s", leaderLsn, List.of(members), Map.of());
    }

    record Row(String what, TargetSessionAttrs target, long maxLag, ClusterState cluster, ShardMembers shard,
               List<String> standbys, boolean leader, boolean hold) {
    }

    @Test
    void routingTable() {
        long none = ReadRouting.NO_LAG_LIMIT;
        ShardMembers healthy = shard(LEADER_LSN, LEADER4, STREAMING, P302, LAGGING);
        ShardMembers onlyLeader = shard(LEADER_LSN, LEADER3);
        List<Row> rows = List.of(
                new Row("primary never reads standbys", TargetSessionAttrs.PRIMARY, none, leaderState("m0"), healthy,
                        List.of(), true, false),
                new Row("read-write is primary", TargetSessionAttrs.READ_WRITE, none, NO_LEADER, healthy,
                        List.of(), true, false),
                new Row("standby: all streaming replicas", TargetSessionAttrs.STANDBY, none, leaderState("m0"), healthy,
                        List.of("m1", "m2", "m3"), false, false),
                new Row("standby: 16MB leaves the lagging one out", TargetSessionAttrs.STANDBY, 16 * MB,
                        leaderState("m0"), healthy, List.of("m1", "m2"), false, false),
                new Row("standby: lag exactly at the limit is within", TargetSessionAttrs.STANDBY, 2 * MB,
                        leaderState("m0"), healthy, List.of("m1", "m2"), false, false),
                new Row("standby: none eligible holds", TargetSessionAttrs.STANDBY, none, leaderState("m0"), onlyLeader,
                        List.of(), false, true),
                new Row("standby: all too far behind holds", TargetSessionAttrs.STANDBY, 512 * 1024, leaderState("m0"),
                        healthy, List.of(), false, true),
                new Row("read-only is standby for a Patroni shard", TargetSessionAttrs.READ_ONLY, 16 * MB,
                        leaderState("m0"), healthy, List.of("m1", "m2"), false, false),
                new Row("prefer-standby with standbys", TargetSessionAttrs.PREFER_STANDBY, 16 * MB, leaderState("m0"),
                        healthy, List.of("m1", "m2"), false, false),
                new Row("prefer-standby falls back to the leader", TargetSessionAttrs.PREFER_STANDBY, 16 * MB,
                        leaderState("m0"), onlyLeader, List.of(), true, false),
                new Row("prefer-standby without leader or standby: the leader path holds",
                        TargetSessionAttrs.PREFER_STANDBY, none, NO_LEADER, shard(0), List.of(), true, false),
                new Row("any: leader and standbys", TargetSessionAttrs.ANY, 16 * MB, leaderState("m0"), healthy,
                        List.of("m1", "m2"), true, false),
                new Row("any during a switchover: standbys only", TargetSessionAttrs.ANY, none, NO_LEADER, healthy,
                        List.of("m1", "m2", "m3"), false, false),
                new Row("any with nothing: the leader path holds", TargetSessionAttrs.ANY, none, NO_LEADER, shard(0),
                        List.of(), true, false),
                new Row("unknown leader LSN never lags (as Patroni)", TargetSessionAttrs.STANDBY, 1,
                        leaderState("m0"), shard(0, LEADER4, STREAMING, LAGGING), List.of("m1", "m3"), false, false),
                new Row("the member the leader key names is no standby, whatever its role says",
                        TargetSessionAttrs.STANDBY, none, leaderState("m1"), healthy, List.of("m2", "m3"), false, false),
                new Row("cluster not read yet", TargetSessionAttrs.STANDBY, none, null, healthy,
                        List.of("m1", "m2", "m3"), false, false));
        List<String> failures = new ArrayList<>();
        for (Row r : rows) {
            ReplicaSelector.ReadRoute route = ReplicaSelector.route(routing(r.target(), r.maxLag()), r.cluster(), r.shard());
            List<String> names = route.standbys().stream().map(PatroniMember::name).toList();
            if (!names.equals(r.standbys()) || route.leader() != r.leader() || route.hold() != r.hold()) {
                failures.add(r.what() + ": got standbys=" + names + " leader=" + route.leader() + " hold=" + route.hold());
            }
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void whyAMemberTakesNoReads() {
        Object[][] rows = {
                {LEADER4, "m0", 0L, ReadRouting.NO_LAG_LIMIT, "leader"},
                {LEADER3, null, 0L, ReadRouting.NO_LAG_LIMIT, "role master"},
                {LEADER4, null, 0L, ReadRouting.NO_LAG_LIMIT, "role primary"},
                {PROMOTED, null, 0L, ReadRouting.NO_LAG_LIMIT, "role promoted"},
                {CREATING, null, 0L, ReadRouting.NO_LAG_LIMIT, "role uninitialized"},
                {STOPPED, null, 0L, ReadRouting.NO_LAG_LIMIT, "state stopped"},
                {ARCHIVE, null, 0L, ReadRouting.NO_LAG_LIMIT, "replication_state in archive recovery"},
                {NOLB, null, 0L, ReadRouting.NO_LAG_LIMIT, "tagged noloadbalance"},
                {LAGGING, "m0", 64 * MB, 16 * MB, "lag 67108864 > max_replica_lag 16777216"},
                {STREAMING, "m0", 1 * MB, 16 * MB, null},
                {P302, "m0", ShardMembers.LAG_UNKNOWN, 0L, null},
                {SHOWN_AS, "m0", 0L, 0L, null},
        };
        for (Object[] r : rows) {
            PatroniMember m = (PatroniMember) r[0];
            assertThat(ReplicaSelector.whyNot(m, (String) r[1], (Long) r[2], (Long) r[3])).as(m.name()).isEqualTo(r[4]);
        }
    }
}
