package io.turnout.proxy.pool;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.LoadBalanceHosts;
import io.turnout.config.ReadRouting;
import io.turnout.config.TargetSessionAttrs;
import io.turnout.config.topology.ClusterState;
import io.turnout.config.topology.Endpoint;
import io.turnout.config.topology.PatroniMember;
import io.turnout.config.topology.ShardMembers;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The read route a database follows, a member refused at login, and how new transactions pick a member. */
class ReadRoutesTest {
    private static final long LSN = 100L << 20;
    private static final ReadRouting STANDBY = new ReadRouting(TargetSessionAttrs.STANDBY, 1 << 20,
            LoadBalanceHosts.ROUND_ROBIN);

    private static PatroniMember member(String name, String role, String state, long xlog) {
        return new PatroniMember(name, new Endpoint("127.0.0.1", 5000 + name.charAt(name.length() - 1)), role, state,
                1, null, xlog, null, Map.of(), false);
    }

    private static final PatroniMember LEADER = member("s-1", "master", "running", LSN);
    private static final PatroniMember R2 = member("s-2", "replica", "running", LSN);
    private static final PatroniMember R3 = member("s-3", "replica", "running", LSN);
    private static final ClusterState CLUSTER = ClusterState.leader("s", "s-1", LEADER, Instant.EPOCH, 1);

    private static ShardMembers shard(PatroniMember... m) {
        return new ShardMembers("s", LSN, List.of(m), Map.of());
    }

    private static List<String> standbys(ReadRoutes r) {
        return r.route().standbys().stream().map(ReadRoutes.Target::name).toList();
    }

    @Test
    void eligibleStandbysAreTheTargetsAndOnlyTheirChangesCount() {
        ReadRoutes r = new ReadRoutes();
        assertThat(r.route()).as("not read yet").isNull();
        assertThat(r.apply(STANDBY, CLUSTER, shard(LEADER, R2, R3))).isTrue();
        assertThat(standbys(r)).containsExactly("s-2", "s-3");
        assertThat(r.route().leader()).isFalse();
        assertThat(r.route().standbys().get(0).address().getPort()).isEqualTo(R2.endpoint().port());
        ReadRoutes.Route before = r.route();
        assertThat(r.apply(STANDBY, CLUSTER, shard(LEADER, R2, member("s-3", "replica", "running", LSN - 10))))
                .as("a few bytes of lag more: same targets").isFalse();
        assertThat(r.route()).isNotSameAs(before);

        PatroniMember lagging = member("s-3", "replica", "running", LSN - (2 << 20));
        assertThat(r.apply(STANDBY, CLUSTER, shard(LEADER, R2, lagging))).isTrue();
        assertThat(standbys(r)).containsExactly("s-2");
        assertThat(r.whyNot(lagging)).isEqualTo("lag 2097152 > max_replica_lag 1048576");

        assertThat(r.apply(STANDBY, CLUSTER, shard(LEADER, member("s-2", "replica", "stopped", 0), lagging))).isTrue();
        assertThat(r.route().standbys()).isEmpty();
        assertThat(r.route().holdReason()).isEqualTo("no eligible standby in Patroni scope s: s-1 leader,"
                + " s-2 state stopped, s-3 lag 2097152 > max_replica_lag 1048576");
    }

    @Test
    void aMemberRefusedAtLoginStaysOutUntilItsKeyChanges() {
        ReadRoutes r = new ReadRoutes();
        r.apply(STANDBY, CLUSTER, shard(LEADER, R2, R3));
        assertThat(r.refuse("s-2")).isTrue();
        assertThat(r.refuse("s-2")).as("once").isFalse();
        assertThat(standbys(r)).containsExactly("s-3");
        assertThat(r.whyNot(R2)).isEqualTo("refused at login: not a standby");
        assertThat(r.apply(STANDBY, CLUSTER, shard(LEADER, member("s-2", "replica", "running", LSN + 99), R3)))
                .as("its WAL position moved, nothing else: still out").isFalse();
        assertThat(standbys(r)).containsExactly("s-3");
        assertThat(r.apply(STANDBY, CLUSTER, shard(LEADER, member("s-2", "replica", "starting", 0), R3))).isFalse();
        assertThat(r.apply(STANDBY, CLUSTER, shard(LEADER, R2, R3))).as("its key changed: back").isTrue();
        assertThat(standbys(r)).containsExactly("s-2", "s-3");
    }

    @Test
    void preferStandbyFallsBackToTheLeaderAndAnyTakesBoth() {
        ReadRoutes prefer = new ReadRoutes();
        ReadRouting p = new ReadRouting(TargetSessionAttrs.PREFER_STANDBY, ReadRouting.NO_LAG_LIMIT,
                LoadBalanceHosts.ROUND_ROBIN);
        prefer.apply(p, CLUSTER, shard(LEADER));
        assertThat(prefer.route().leader()).isTrue();
        assertThat(prefer.route().holdReason()).isNull();
        ReadRoutes any = new ReadRoutes();
        any.apply(new ReadRouting(TargetSessionAttrs.ANY, ReadRouting.NO_LAG_LIMIT, LoadBalanceHosts.ROUND_ROBIN),
                CLUSTER, shard(LEADER, R2));
        assertThat(any.route().leader()).isTrue();
        assertThat(standbys(any)).containsExactly("s-2");
    }

    @Test
    void fewestOutstandingFirstTiesInTurnAndABackingOffMemberOnlyWhenAllAre() {
        boolean[] all = {true, true, true};
        assertThat(MemberShards.choose(3, 0, new int[] {2, 1, 3}, all)).isEqualTo(1);
        int[] even = {1, 1, 1};
        assertThat(List.of(MemberShards.choose(3, 0, even, all), MemberShards.choose(3, 1, even, all),
                MemberShards.choose(3, 2, even, all))).containsExactly(0, 1, 2);
        assertThat(MemberShards.choose(3, 0, new int[] {0, 5, 9}, new boolean[] {false, true, true}))
                .as("the idle one backs off").isEqualTo(1);
        assertThat(MemberShards.choose(2, 1, new int[] {4, 2}, new boolean[] {false, false})).isEqualTo(1);
    }
}
