package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.turnout.config.topology.EtcdKv.WatchReply;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** Replies copied from etcd 3.4.23's JSON gateway (int64 as strings, PUT events without "type"). */
class EtcdKvTest {
    private static JsonNode json(String s) throws IOException {
        return EtcdKv.JSON.readTree(s);
    }

    @Test
    void eventsPutWithoutTypeAndDelete() throws IOException {
        WatchReply w = EtcdKv.watch(json("{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\","
                + "\"member_id\":\"13668033151171901709\",\"revision\":\"4\",\"raft_term\":\"2\"},\"events\":[{\"kv\":"
                + "{\"key\":\"L3NlcnZpY2UvYS9sZWFkZXI=\",\"create_revision\":\"2\",\"mod_revision\":\"3\",\"version\":\"1\","
                + "\"value\":\"YS0x\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"L3NlcnZpY2UvYS9sZWFkZXI=\","
                + "\"mod_revision\":\"4\"}}]}}"));
        assertThat(w.revision()).isEqualTo(4);
        assertThat(w.canceled()).isFalse();
        assertThat(w.events()).hasSize(2);
        assertThat(w.events().get(0).delete()).isFalse();
        assertThat(w.events().get(0).kv().key()).isEqualTo("/service/a/leader");
        assertThat(w.events().get(0).kv().text()).isEqualTo("a-1");
        assertThat(w.events().get(0).kv().modRevision()).isEqualTo(3);
        assertThat(w.events().get(1).delete()).isTrue();
        assertThat(w.events().get(1).kv().modRevision()).isEqualTo(4);
    }

    @Test
    void createdCompactedAndUnauthenticated() throws IOException {
        WatchReply created = EtcdKv.watch(json("{\"result\":{\"header\":{\"revision\":\"4\"},\"created\":true}}"));
        assertThat(created.created()).isTrue();
        assertThat(created.events()).isEmpty();
        WatchReply compacted = EtcdKv.watch(json("{\"result\":{\"header\":{\"cluster_id\":\"1\",\"raft_term\":\"2\"},"
                + "\"canceled\":true,\"compact_revision\":\"3\"}}"));
        assertThat(compacted.canceled()).isTrue();
        assertThat(compacted.compactRevision()).isEqualTo(3);
        WatchReply refused = EtcdKv.watch(json("{\"result\":{\"header\":{\"revision\":\"4\"},\"watch_id\":\"-1\","
                + "\"created\":true,\"canceled\":true,\"cancel_reason\":\"rpc error: code = Unauthenticated desc = "
                + "etcdserver: invalid auth token\"}}"));
        assertThat(refused.compactRevision()).isZero();
        assertThat(EtcdKv.isAuthError(refused.cancelReason())).isTrue();
    }

    @Test
    void errorObjectsOfUnaryCallsAndStreams() throws IOException {
        JsonNode unary = json("{\"error\":\"etcdserver: invalid auth token\",\"message\":\"etcdserver: invalid auth "
                + "token\",\"code\":16}");
        assertThat(EtcdKv.error(unary)).isEqualTo("etcdserver: invalid auth token (code 16)");
        assertThat(EtcdKv.isAuthError(EtcdKv.error(unary))).isTrue();
        JsonNode stream = json("{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no leader\"}}");
        assertThat(EtcdKv.error(stream)).isEqualTo("etcdserver: no leader (code 14)");
        assertThatThrownBy(() -> EtcdKv.watch(stream)).hasMessage("etcdserver: no leader (code 14)");
        assertThat(EtcdKv.isAuthError("etcdserver: user name is empty (code 3)")).isFalse();
    }

    @Test
    void rangeAndRequests() throws IOException {
        EtcdKv.Range r = EtcdKv.range(json("{\"header\":{\"revision\":\"7\"},\"kvs\":[{\"key\":\"L3NlcnZpY2UvYS9sZWFkZXI=\","
                + "\"mod_revision\":\"2\",\"value\":\"YS0x\"}],\"count\":\"1\"}"));
        assertThat(r.revision()).isEqualTo(7);
        assertThat(r.kvs()).extracting(EtcdKv.Kv::key).containsExactly("/service/a/leader");
        assertThat(EtcdKv.range(json("{\"header\":{\"revision\":\"9\"}}")).kvs()).isEmpty();
        assertThat(EtcdKv.rangeRequest("/service/").toString())
                .isEqualTo("{\"key\":\"L3NlcnZpY2Uv\",\"range_end\":\"L3NlcnZpY2Uw\"}");
        assertThat(EtcdKv.watchRequest("/service/", 12).toString()).isEqualTo("{\"create_request\":{\"key\":"
                + "\"L3NlcnZpY2Uv\",\"range_end\":\"L3NlcnZpY2Uw\",\"start_revision\":\"12\"}}");
    }
}
