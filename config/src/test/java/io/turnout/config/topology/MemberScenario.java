package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.LoadBalanceHosts;
import io.turnout.config.ReadRouting;
import io.turnout.config.TargetSessionAttrs;
import java.time.Duration;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * One story of a shard's members told to either DCS source (Consul or etcd), so both are held to the same
 * behaviour: members, tags and the status / optime/leader keys become {@link ShardMembers} with Patroni's lag.
 */
final class MemberScenario {
    private static final Duration SOON = Duration.ofSeconds(15);
    private static final long MB = 1024 * 1024;
    private static final long LSN = 100 * MB;
    private static final ReadRouting STANDBY_16MB = new ReadRouting(TargetSessionAttrs.STANDBY, 16 * MB,
            LoadBalanceHosts.ROUND_ROBIN);

    /** Writes and deletes keys below {@code <namespace>/s/}, e.g. "members/m-1" or "status". */
    record Dcs(String prefix, BiConsumer<String, String> putKey, Consumer<String> deleteKey) {
        void put(String rest, String value) {
            putKey.accept(prefix + rest, value);
        }

        void delete(String rest) {
            deleteKey.accept(prefix + rest);
        }
    }

    private MemberScenario() {
    }

    static String member(int port, String role, String replicationState, long xlog, boolean noLoadBalance) {
        return "{\"conn_url\":\"postgres://127.0.0.1:" + port + "/postgres\",\"api_url\":\"http://127.0.0.1:"
                + (port + 1000) + "/patroni\",\"state\":\"running\",\"role\":\"" + role + "\",\"version\":\"4.0.4\","
                + "\"xlog_location\":" + xlog + (replicationState != null ? ",\"replication_state\":\"" + replicationState
                + "\"" : "") + ",\"timeline\":1" + (noLoadBalance ? ",\"tags\":{\"noloadbalance\":true}" : "") + "}";
    }

    /** Writes a shard "s" of a leader and two standbys; call before the source starts. */
    static void seed(Dcs dcs) {
        dcs.put("members/m-0", member(5432, "primary", null, LSN, false));
        dcs.put("members/m-1", member(5433, "replica", "streaming", LSN - MB, false));
        dcs.put("members/m-2", member(5434, "replica", "streaming", LSN - 64 * MB, false));
        dcs.put("status", "{\"optime\":" + LSN + ",\"slots\":{\"m_1\":" + (LSN - MB) + "},\"retain_slots\":[]}");
        dcs.put("leader", "m-0");
    }

    /** After {@link #seed} and the source's {@code watchMembers("s")} and start. */
    static void run(Dcs dcs, TopologyRecorder seen) throws InterruptedException {
        Topology t = await(seen, 0, s -> s.members().size() == 3 && s.leaderLsn() == LSN, "three members");
        assertThat(seen.all().get(seen.count() - 1).thread()).startsWith("turnout-");
        ShardMembers s = t.members("s");
        assertThat(s.lag(s.member("m-1"))).isEqualTo(MB);
        assertThat(s.lag(s.member("m-2"))).isEqualTo(64 * MB);
        assertThat(standbys(seen, t)).isEqualTo("[m-1]");

        int mark = seen.count();
        dcs.put("members/m-2", member(5434, "replica", "streaming", LSN, false));
        t = await(seen, mark, m -> m.lag(m.member("m-2")) == 0, "m-2 caught up");
        assertThat(standbys(seen, t)).isEqualTo("[m-1, m-2]");

        mark = seen.count();
        dcs.put("members/m-1", member(5433, "replica", "streaming", LSN, true));
        t = await(seen, mark, m -> m.member("m-1").noLoadBalance(), "m-1 tagged noloadbalance");
        assertThat(standbys(seen, t)).isEqualTo("[m-2]");

        mark = seen.count();
        dcs.put("status", "{\"optime\":" + (LSN + 32 * MB) + "}");
        t = await(seen, mark, m -> m.leaderLsn() == LSN + 32 * MB, "the leader moved on");
        assertThat(standbys(seen, t)).as("m-2 is 32MB behind now").isEqualTo("[]");

        mark = seen.count();
        dcs.delete("members/m-2");
        await(seen, mark, m -> m.member("m-2") == null && m.members().size() == 2, "m-2 gone");

        mark = seen.count();
        dcs.delete("status");
        dcs.put("optime/leader", Long.toString(LSN + 48 * MB));
        await(seen, mark, m -> m.leaderLsn() == LSN + 48 * MB, "the legacy optime/leader key");
    }

    private static String standbys(TopologyRecorder seen, Topology t) {
        return ReplicaSelector.route(STANDBY_16MB, t.cluster("s"), t.members("s")).standbys().stream()
                .map(PatroniMember::name).toList().toString();
    }

    private static Topology await(TopologyRecorder seen, int from, Predicate<ShardMembers> p, String what)
            throws InterruptedException {
        return seen.awaitTopology(from, t -> t.members("s") != null && t.cluster("s") != null
                && t.cluster("s").hasLeader() && p.test(t.members("s")), SOON, what).topology();
    }
}
