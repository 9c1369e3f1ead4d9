package io.turnout.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Proves the {@link EtcdServer} fixture: the v3 JSON gateway, and a stop/restart that keeps data and ports. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class EtcdServerIT {

    @Test
    void keysSurviveAStopAndRestartOnTheSameEndpoint() {
        try (EtcdServer etcd = EtcdServer.start()) {
            assertThat(etcd.version()).contains("\"etcdcluster\":\"3.4");
            assertThat(etcd.endpoint()).isEqualTo("http://127.0.0.1:" + etcd.clientPort());

            etcd.put("/service/s/leader", "node-1");
            etcd.put("/service/s/members/node-1", "{\"role\":\"master\"}");
            etcd.put("/service/t/leader", "other");
            assertThat(etcd.get("/service/s/leader")).isEqualTo("node-1");
            assertThat(etcd.get("/service/s/nope")).isNull();
            assertThat(etcd.getPrefix("/service/s/")).isEqualTo(Map.of(
                    "/service/s/leader", "node-1", "/service/s/members/node-1", "{\"role\":\"master\"}"));

            String endpoint = etcd.endpoint();
            etcd.stop();
            assertThat(etcd.isRunning()).isFalse();
            assertThatThrownBy(() -> etcd.get("/service/s/leader")).isInstanceOf(UncheckedIOException.class);

            etcd.restart();
            assertThat(etcd.endpoint()).isEqualTo(endpoint);
            assertThat(etcd.get("/service/s/leader")).isEqualTo("node-1");
            assertThat(etcd.delete("/service/s/leader")).isEqualTo(1);
            assertThat(etcd.get("/service/s/leader")).isNull();
        }
    }
}
