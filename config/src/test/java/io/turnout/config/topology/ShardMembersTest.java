package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Member fields and the leader's LSN as Patroni 3 and 4 write them, and lag computed as Patroni's
 * {@code /replica?lag=} check does: the status key's optime minus the member's xlog_location.
 */
class ShardMembersTest {
    /** Patroni 4.1's touch_member for a streaming standby (replay_lsn/receive_lsn are new in 4.1). */
    static final String P4_REPLICA = "{\"conn_url\":\"postgres://10.0.1.12:5432/postgres\","
            + "\"api_url\":\"http://10.0.1.12:8008/patroni\",\"state\":\"running\",\"role\":\"replica\","
            + "\"version\":\"4.1.0\",\"xlog_location\":83886264,\"replay_lsn\":83886200,\"receive_lsn\":83886264,"
            + "\"replication_state\":\"streaming\",\"timeline\":3,\"tags\":{\"nofailover\":true,\"zone\":\"b\"}}";
    /** Patroni 3.0.2 (this machine's package): no replication_state yet. */
    static final String P302_REPLICA = "{\"conn_url\":\"postgres://127.0.0.1:43891/postgres\","
            + "\"api_url\":\"http://127.0.0.1:43894/patroni\",\"state\":\"running\",\"role\":\"replica\","
            + "\"version\":\"3.0.2\",\"xlog_location\":50331744,\"timeline\":1}";

    @Test
    void replicaFieldsOfPatroni4AndPatroni302() throws Exception {
        PatroniMember p4 = PatroniKeys.member("pg-a-2", P4_REPLICA);
        assertThat(p4.xlogLocation()).isEqualTo(83886264L);
        assertThat(p4.replicationState()).isEqualTo("streaming");
        assertThat(p4.tags()).containsEntry("nofailover", "true").containsEntry("zone", "b");
        assertThat(p4.noLoadBalance()).isFalse();

        PatroniMember p3 = PatroniKeys.member("shard-a-2", P302_REPLICA);
        assertThat(p3.xlogLocation()).isEqualTo(50331744L);
        assertThat(p3.replicationState()).isNull();
        assertThat(p3.tags()).isEmpty();
    }

    @Test
    void noloadbalanceIsTruthyAsPythonsBoolTakesIt() throws Exception {
        // Patroni writes the tag only when set, and tests bool(tags.get('noloadbalance', False))
        Map<String, Boolean> cases = Map.of(
                "true", true, "false", false, "1", true, "0", false, "\"yes\"", true, "\"\"", false,
                "\"false\"", true, "null", false, "{}", false, "[1]", true);
        cases.forEach((json, expected) -> {
            try {
                PatroniMember m = PatroniKeys.member("n", "{\"conn_url\":\"postgres://h:5432/postgres\","
                        + "\"role\":\"replica\",\"state\":\"running\",\"tags\":{\"noloadbalance\":" + json + "}}");
                assertThat(m.noLoadBalance()).as("noloadbalance: " + json).isEqualTo(expected);
            } catch (PatroniDataException e) {
                throw new AssertionError(e);
            }
        });
    }

    @Test
    void xlogLocationThatIsNotAPositionCountsAsAbsent() throws Exception {
        for (String bad : List.of("\"0/3000060\"", "-5", "true", "{}", "null")) {
            String json = "{\"conn_url\":\"postgres://h:5432/postgres\",\"xlog_location\":" + bad + "}";
            assertThat(PatroniKeys.member("n", json).xlogLocation()).as(bad).isZero();
        }
        assertThat(PatroniKeys.member("n", "{\"conn_url\":\"postgres://h:5432/postgres\",\"xlog_location\":\"4096\"}")
                .xlogLocation()).isEqualTo(4096);
    }

    @Test
    void leaderLsnFromTheStatusKeyThenTheLegacyOptimeKey() {
        // Patroni >= 2.1 writes status as JSON; Status.from_node also takes a bare integer
        assertThat(PatroniKeys.leaderLsn("{\"optime\":83886264,\"slots\":{\"pg_a_2\":83886200},\"retain_slots\":[]}",
                null)).isEqualTo(83886264L);
        assertThat(PatroniKeys.leaderLsn("{\"optime\":\"83886264\"}", null)).isEqualTo(83886264L);
        assertThat(PatroniKeys.leaderLsn("83886264", null)).isEqualTo(83886264L);
        // optime/leader is read only when status does not exist, as in Patroni's get_cluster
        assertThat(PatroniKeys.leaderLsn(null, "67108960")).isEqualTo(67108960L);
        assertThat(PatroniKeys.leaderLsn("{\"optime\":100}", "67108960")).isEqualTo(100L);
        assertThat(PatroniKeys.leaderLsn("{\"slots\":{}}", "67108960")).as("status without optime").isZero();
        for (String junk : List.of("", "not json", "[1,2]", "{\"optime\":\"x\"}", "{\"optime\":-3}", "\"12\"")) {
            assertThat(PatroniKeys.leaderLsn(junk, null)).as(junk).isZero();
        }
        assertThat(PatroniKeys.leaderLsn(null, null)).isZero();
    }

    @Test
    void lagIsTheLeadersLsnMinusTheMembersXlogLocation() throws Exception {
        PatroniMember r = PatroniKeys.member("r", P302_REPLICA);
        PatroniMember starting = PatroniKeys.member("s", "{\"conn_url\":\"postgres://h:5432/postgres\","
                + "\"state\":\"starting\",\"role\":\"replica\"}");
        ShardMembers known = new ShardMembers("a", 50331744L + 16 * 1024 * 1024, List.of(r, starting), Map.of());
        assertThat(known.lag(r)).isEqualTo(16L * 1024 * 1024);
        assertThat(known.lag(starting)).as("no xlog_location: behind by all of it").isEqualTo(known.leaderLsn());
        ShardMembers ahead = new ShardMembers("a", 50331000L, List.of(r), Map.of());
        assertThat(ahead.lag(r)).as("status is written once per loop; a standby may be past it").isZero();
        ShardMembers unknown = new ShardMembers("a", 0, List.of(r), Map.of());
        assertThat(unknown.lag(r)).isEqualTo(ShardMembers.LAG_UNKNOWN);
        assertThat(known.members()).extracting(PatroniMember::name).containsExactly("r", "s");
        assertThat(known.member("s")).isSameAs(starting);
        assertThat(known.member("x")).isNull();
    }
}
