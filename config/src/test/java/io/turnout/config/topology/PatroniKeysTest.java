package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Member values as Patroni 3.x and 4.x write them (compact JSON from ha.touch_member). */
class PatroniKeysTest {
    @Test
    void patroni3MasterAndPatroni4Primary() throws Exception {
        PatroniMember m3 = PatroniKeys.member("pg-a-1", "{\"conn_url\":\"postgres://10.0.1.11:5432/postgres\","
                + "\"api_url\":\"http://10.0.1.11:8008/patroni\",\"state\":\"running\",\"role\":\"master\","
                + "\"version\":\"3.0.2\",\"xlog_location\":83886264,\"timeline\":1}");
        assertThat(m3.endpoint()).isEqualTo(new Endpoint("10.0.1.11", 5432));
        assertThat(m3.role()).isEqualTo("master");
        assertThat(m3.state()).isEqualTo("running");
        assertThat(m3.timeline()).isEqualTo(1);
        assertThat(m3.apiUrl()).isEqualTo("http://10.0.1.11:8008/patroni");

        PatroniMember m4 = PatroniKeys.member("pg-a-2", "{\"conn_url\":\"postgres://pg-a-2.db.internal:6543/postgres\","
                + "\"api_url\":\"http://pg-a-2.db.internal:8008/patroni\",\"state\":\"running\",\"role\":\"primary\","
                + "\"version\":\"4.0.4\",\"xlog_location\":50331968,\"timeline\":3,\"tags\":{\"clonefrom\":true},"
                + "\"checkpoint_after_promote\":false,\"pending_restart\":true}");
        assertThat(m4.endpoint()).isEqualTo(new Endpoint("pg-a-2.db.internal", 6543));
        assertThat(m4.role()).isEqualTo("primary");
        assertThat(m4.timeline()).isEqualTo(3);
    }

    @Test
    void transientRolesAndStandbyLeaderAreAccepted() throws Exception {
        String[] roles = {"promoted", "demoted", "standby_leader", "replica"};
        for (String role : roles) {
            PatroniMember m = PatroniKeys.member("n", "{\"conn_url\":\"postgres://10.0.0.9:5433/postgres\","
                    + "\"api_url\":\"http://10.0.0.9:8008/patroni\",\"state\":\"running\",\"role\":\"" + role + "\","
                    + "\"version\":\"4.0.4\",\"xlog_location\":67108960,\"replication_state\":\"streaming\",\"timeline\":4}");
            assertThat(m.role()).isEqualTo(role);
            assertThat(m.endpoint()).isEqualTo(new Endpoint("10.0.0.9", 5433));
        }
        // a member that is starting reports neither xlog_location nor timeline
        PatroniMember starting = PatroniKeys.member("n", "{\"conn_url\":\"postgres://10.0.0.9:5432/postgres\","
                + "\"api_url\":\"http://10.0.0.9:8008/patroni\",\"state\":\"starting\",\"role\":\"replica\",\"version\":\"3.0.2\"}");
        assertThat(starting.timeline()).isZero();
        assertThat(starting.state()).isEqualTo("starting");
    }

    @Test
    void patroni302InEtcdWritesConnUrlWithoutUserAndClonesWithoutRole() throws Exception {
        // exactly what Patroni 3.0.2's etcd3 DCS wrote in PatroniClusterIT
        PatroniMember m = PatroniKeys.member("shard-a-1", "{\"conn_url\":\"postgres://127.0.0.1:43887/postgres\","
                + "\"api_url\":\"http://127.0.0.1:43890/patroni\",\"state\":\"running\",\"role\":\"master\","
                + "\"version\":\"3.0.2\",\"xlog_location\":50331744,\"timeline\":1}");
        assertThat(m.endpoint()).isEqualTo(new Endpoint("127.0.0.1", 43887));
        assertThat(m.role()).isEqualTo("master");
        PatroniMember cloning = PatroniKeys.member("shard-a-2", "{\"conn_url\":\"postgres://127.0.0.1:43891/postgres\","
                + "\"api_url\":\"http://127.0.0.1:43894/patroni\",\"state\":\"creating replica\","
                + "\"role\":\"uninitialized\",\"version\":\"3.0.2\"}");
        assertThat(cloning.state()).isEqualTo("creating replica");
        assertThat(cloning.role()).isEqualTo("uninitialized");
        assertThat(cloning.timeline()).isZero();
    }

    @Test
    void keysBelowTheNamespace() {
        PatroniKeys.KeyPath m = PatroniKeys.keyPath("shard-a/members/shard-a-1");
        assertThat(m.scope()).isEqualTo("shard-a");
        assertThat(m.member()).isEqualTo("shard-a-1");
        assertThat(m.isLeader()).isFalse();
        assertThat(PatroniKeys.keyPath("shard-a/leader").isLeader()).isTrue();
        assertThat(PatroniKeys.keyPath("shard-a/").rest()).isEmpty();
        assertThat(PatroniKeys.keyPath("shard-a/config").member()).isNull();
        assertThat(PatroniKeys.keyPath("shard-a/members/x/y").member()).isNull();
        assertThat(PatroniKeys.keyPath("stray-key")).isNull();
        assertThat(PatroniKeys.keyPath("/x")).isNull();
    }

    @Test
    void connUrlForms() throws Exception {
        assertThat(PatroniKeys.connUrl("postgres://replicator@10.0.0.5:5432/postgres")).isEqualTo(new Endpoint("10.0.0.5", 5432));
        assertThat(PatroniKeys.connUrl("postgresql://u:p%40ss@db1:6000/app?sslmode=require")).isEqualTo(new Endpoint("db1", 6000));
        assertThat(PatroniKeys.connUrl("postgres://[::1]:5433/postgres")).isEqualTo(new Endpoint("::1", 5433));
        assertThat(PatroniKeys.connUrl("postgres://[fd00::5]/postgres")).isEqualTo(new Endpoint("fd00::5", 5432));
        assertThat(PatroniKeys.connUrl("postgres://db1")).isEqualTo(new Endpoint("db1", 5432));
        assertThat(PatroniKeys.connUrl("POSTGRES://db1:1/x")).isEqualTo(new Endpoint("db1", 1));
        assertThat(new Endpoint("::1", 5433)).hasToString("[::1]:5433");
        assertThat(new Endpoint("db1", 5432)).hasToString("db1:5432");
    }

    @Test
    void badDataIsACheckedErrorNamingTheMember() {
        assertThatThrownBy(() -> PatroniKeys.member("pg-1", "{\"conn_url\":\"postgres://h:5432/x\""))
                .isInstanceOf(PatroniDataException.class).hasMessageStartingWith("member pg-1: invalid JSON");
        assertThatThrownBy(() -> PatroniKeys.member("pg-1", "[1,2]")).hasMessage("member pg-1: expected a JSON object");
        assertThatThrownBy(() -> PatroniKeys.member("pg-1", "{\"role\":\"primary\"}")).hasMessage("member pg-1: no conn_url");
        assertThatThrownBy(() -> PatroniKeys.member("pg-1", "")).hasMessage("member pg-1: empty value");
        assertThatThrownBy(() -> PatroniKeys.connUrl("http://h:5432/x")).hasMessageContaining("not a postgres://");
        assertThatThrownBy(() -> PatroniKeys.connUrl("postgres://h:99999/x")).hasMessageContaining("bad port '99999'");
        assertThatThrownBy(() -> PatroniKeys.connUrl("postgres://h:abc/x")).hasMessageContaining("bad port 'abc'");
        assertThatThrownBy(() -> PatroniKeys.connUrl("postgres://[::1:5432/x")).hasMessageContaining("unclosed [");
        assertThatThrownBy(() -> PatroniKeys.connUrl("postgres:///postgres")).hasMessageContaining("no TCP host");
        assertThatThrownBy(() -> PatroniKeys.connUrl("postgres://a:1,b:2/x")).hasMessageContaining("several hosts");
    }

    @Test
    void leaderTextAndKeyNames() {
        assertThat(PatroniKeys.leaderName("pg-a-1")).isEqualTo("pg-a-1");
        assertThat(PatroniKeys.leaderName(" pg-a-1\n")).isEqualTo("pg-a-1");
        assertThat(PatroniKeys.leaderName("")).isNull();
        assertThat(PatroniKeys.leaderName(null)).isNull();
        assertThat(PatroniKeys.leaderKey("/service/", "shard-a")).isEqualTo("service/shard-a/leader");
        assertThat(PatroniKeys.memberKey("service", "shard-a", "pg-1")).isEqualTo("service/shard-a/members/pg-1");
    }

    @Test
    void topologyPublishesOnlyRealChanges() throws Exception {
        java.time.Instant t0 = java.time.Instant.now();
        PatroniMember m = PatroniKeys.member("pg-1", "{\"conn_url\":\"postgres://h1:5432/postgres\",\"role\":\"primary\",\"timeline\":2}");
        Topology t1 = Topology.EMPTY.with(ClusterState.leader("a", "pg-1", m, t0, 10));
        assertThat(t1.version()).isEqualTo(1);
        // same value at a newer index and time: not a change
        assertThat(t1.with(ClusterState.leader("a", "pg-1", m, t0.plusSeconds(5), 42))).isSameAs(t1);
        Topology t2 = t1.with(ClusterState.noLeader("a", t0, 43));
        assertThat(t2.version()).isEqualTo(2);
        assertThat(t2.cluster("a").hasLeader()).isFalse();
        assertThat(t2.leaderChangesSince(t1)).containsExactly("a");
        Topology t3 = t2.with(t2.cluster("a").asStale("down", t0));
        assertThat(t3.leaderChangesSince(t2)).isEmpty();
        assertThat(t3.cluster("a").stale()).isTrue();
        assertThat(t3.withDiscovered(java.util.Set.of("a", "b")).discoveredScopes()).containsExactly("a", "b");
        assertThat(t3.withDiscovered(java.util.Set.of())).isSameAs(t3);
    }
}
