package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.topology.EtcdKv.Event;
import io.turnout.config.topology.EtcdKv.Kv;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a namespace-wide watch must act on, and what it may drop after one map update. */
class EtcdMirrorTest {
    private final EtcdMirror m = new EtcdMirror("/service/");

    private static Event put(String key, String value) {
        return new Event(false, new Kv(key, EtcdKv.encode(value), 1));
    }

    private static Event delete(String key) {
        return new Event(true, new Kv(key, "", 2));
    }

    @Test
    void onlyTheLeaderAndTheLeadersMemberAreChanges() {
        m.reset(List.of(new Kv("/service/a/leader", EtcdKv.encode("a-1"), 1),
                new Kv("/service/a/members/a-1", EtcdKv.encode("{\"xlog_location\":1}"), 1)));
        assertThat(m.takeScopesChanged()).isTrue();
        assertThat(m.leader("a")).isEqualTo("a-1");
        assertThat(m.apply(put("/service/a/members/a-2", "{\"xlog_location\":1}"))).as("a replica").isNull();
        assertThat(m.apply(put("/service/a/status", "{\"optime\":5}"))).isNull();
        assertThat(m.apply(put("/service/a/members/a-1", "{\"xlog_location\":1}"))).as("same value").isNull();
        assertThat(m.apply(put("/service/a/members/a-1", "{\"xlog_location\":2}"))).isEqualTo("a");
        assertThat(m.member("a", "a-1")).isEqualTo("{\"xlog_location\":2}");
        assertThat(m.apply(put("/service/a/leader", "a-1"))).as("same leader").isNull();
        assertThat(m.apply(put("/service/a/leader", "a-2"))).isEqualTo("a");
        assertThat(m.apply(delete("/service/a/members/a-1"))).as("no longer the leader").isNull();
        assertThat(m.apply(delete("/service/a/leader"))).isEqualTo("a");
        assertThat(m.leader("a")).isNull();
        assertThat(m.apply(put("/service/a/leader", " "))).as("an empty leader key is no leader").isNull();
        assertThat(m.takeScopesChanged()).isFalse();
    }

    @Test
    void scopesComeAndGoWithTheirKeysAndStrayKeysAreIgnored() {
        m.reset(List.of());
        m.takeScopesChanged();
        assertThat(m.apply(put("/service/b/config", "{}"))).as("config changes maintenance mode").isEqualTo("b");
        assertThat(m.apply(put("/service/b/config", "{}"))).as("same config").isNull();
        assertThat(m.apply(put("/service/b/history", "[]"))).isNull();
        assertThat(m.apply(put("/service/stray", "x"))).isNull();
        assertThat(m.apply(put("/other/c/leader", "c-1"))).isNull();
        assertThat(m.apply(put("/service/b/members/", "x"))).isNull();
        assertThat(m.takeScopesChanged()).isTrue();
        assertThat(m.scopes()).containsExactly("b");
        m.apply(delete("/service/b/config"));
        m.apply(delete("/service/b/history"));
        m.apply(delete("/service/b/members/"));
        assertThat(m.takeScopesChanged()).isTrue();
        assertThat(m.scopes()).isEmpty();
        assertThat(m.apply(delete("/service/zz/leader"))).isNull();
        assertThat(m.scopes()).isEmpty();
    }

    @Test
    void anyMemberStatusOrOptimeChangeMarksItsScopeForMemberWatchers() {
        m.reset(List.of(new Kv("/service/a/leader", EtcdKv.encode("a-1"), 1)));
        m.takeMembersChanged();
        m.apply(put("/service/a/members/a-2", "{\"xlog_location\":1}"));
        m.apply(put("/service/b/status", "{\"optime\":5}"));
        assertThat(m.takeMembersChanged()).containsExactly("a", "b");
        assertThat(m.takeMembersChanged()).as("taken").isEmpty();
        m.apply(put("/service/a/members/a-2", "{\"xlog_location\":1}"));
        m.apply(put("/service/b/status", "{\"optime\":5}"));
        m.apply(put("/service/a/history", "[]"));
        assertThat(m.takeMembersChanged()).as("same values, and keys no member watcher reads").isEmpty();
        m.apply(put("/service/c/optime/leader", "7"));
        m.apply(delete("/service/b/status"));
        assertThat(m.takeMembersChanged()).containsExactly("b", "c");
        assertThat(m.text("c", PatroniKeys.LEADER_OPTIME)).isEqualTo("7");
        assertThat(m.text("b", PatroniKeys.STATUS)).isNull();
        assertThat(m.members("a")).containsOnlyKeys("a-2").containsEntry("a-2", "{\"xlog_location\":1}");
        assertThat(m.members("nope")).isEmpty();
    }
}
