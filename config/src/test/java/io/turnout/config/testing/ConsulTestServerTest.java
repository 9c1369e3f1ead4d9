package io.turnout.config.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The test server keeps Consul's documented contract, checked with a plain HTTP client. */
class ConsulTestServerTest {
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final ObjectMapper json = new ObjectMapper();
    private ConsulTestServer consul;

    @AfterEach
    void stop() {
        if (consul != null) {
            consul.close();
        }
    }

    private HttpResponse<String> send(String method, String pathAndQuery, String body, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(consul.url() + pathAndQuery))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("X-Consul-Token", token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static long index(HttpResponse<?> r) {
        return Long.parseLong(r.headers().firstValue("X-Consul-Index").orElseThrow());
    }

    @Test
    void kvEntriesLookLikeConsuls() throws Exception {
        consul = ConsulTestServer.start(null);
        HttpResponse<String> missing = send("GET", "/v1/kv/service/a/leader", null, null);
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(index(missing)).isPositive();
        assertThat(send("PUT", "/v1/kv/service/a/leader?acquire=sess-1", "pg-1", null).body()).isEqualTo("true");
        assertThat(send("PUT", "/v1/kv/service/a/leader?acquire=sess-2", "pg-2", null).body()).isEqualTo("false");
        HttpResponse<String> r = send("GET", "/v1/kv/service/a/leader", null, null);
        JsonNode e = json.readTree(r.body()).get(0);
        assertThat(e.get("Key").asText()).isEqualTo("service/a/leader");
        assertThat(new String(Base64.getDecoder().decode(e.get("Value").asText()))).isEqualTo("pg-1");
        assertThat(e.get("Session").asText()).isEqualTo("sess-1");
        assertThat(e.get("LockIndex").asLong()).isEqualTo(1);
        assertThat(e.get("ModifyIndex").asLong()).isEqualTo(index(r)).isEqualTo(e.get("CreateIndex").asLong());
        assertThat(e.has("Flags")).isTrue();

        consul.patroni().cluster("b", "h", 5432, 2);
        HttpResponse<String> keys = send("GET", "/v1/kv/service/?keys&separator=/", null, null);
        assertThat(json.readTree(keys.body())).extracting(JsonNode::asText).containsExactly("service/a/", "service/b/");
        HttpResponse<String> all = send("GET", "/v1/kv/service/b/?recurse", null, null);
        assertThat(json.readTree(all.body())).hasSize(3);
        assertThat(send("DELETE", "/v1/kv/service/b/?recurse", null, null).statusCode()).isEqualTo(200);
        HttpResponse<String> gone = send("GET", "/v1/kv/service/b/?recurse", null, null);
        assertThat(gone.statusCode()).isEqualTo(404);
        assertThat(index(gone)).as("a prefix's index moves when keys under it are deleted").isGreaterThan(index(all));
        assertThat(consul.requests("service/a/leader")).isEqualTo(4);
    }

    @Test
    void blockingQueriesWaitForAChangeOrTheWaitPlusJitter() throws Exception {
        consul = ConsulTestServer.start(null);
        consul.put("k", "v1");
        long idx = index(send("GET", "/v1/kv/k", null, null));
        long t0 = System.nanoTime();
        HttpResponse<String> timedOut = send("GET", "/v1/kv/k?index=" + idx + "&wait=400ms", null, null);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(ms).isBetween(390L, 400L + 400 / 16 + 1000);
        assertThat(index(timedOut)).isEqualTo(idx);

        CompletableFuture<HttpResponse<String>> pending = http.sendAsync(
                HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/k?index=" + idx + "&wait=30s")).build(),
                HttpResponse.BodyHandlers.ofString());
        Thread.sleep(100);
        assertThat(pending).isNotDone();
        consul.put("other", "x"); // another key: the existing key's index does not move
        Thread.sleep(100);
        assertThat(pending).isNotDone();
        consul.put("k", "v2");
        HttpResponse<String> changed = pending.get(2, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(index(changed)).isGreaterThan(idx);

        consul.resetIndex(5);
        HttpResponse<String> after = send("GET", "/v1/kv/k", null, null);
        assertThat(index(after)).isEqualTo(5);

        // a snapshot restore wakes queries blocked on the old, higher index, as Consul's does
        consul.put("k", "v3");
        long high = index(send("GET", "/v1/kv/k", null, null));
        CompletableFuture<HttpResponse<String>> blocked = http.sendAsync(
                HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/k?index=" + high + "&wait=30s")).build(),
                HttpResponse.BodyHandlers.ofString());
        Thread.sleep(100);
        assertThat(blocked).isNotDone();
        consul.resetIndex(2);
        assertThat(index(blocked.get(2, java.util.concurrent.TimeUnit.SECONDS))).isEqualTo(2);
    }

    @Test
    void tokenIsCheckedAndStopStartKeepsThePortAndData() throws Exception {
        consul = ConsulTestServer.start("t0k");
        consul.put("k", "v");
        assertThat(send("GET", "/v1/kv/k", null, null).statusCode()).isEqualTo(403);
        assertThat(send("GET", "/v1/kv/k", null, "nope").statusCode()).isEqualTo(403);
        assertThat(send("GET", "/v1/kv/k?token=t0k", null, null).statusCode()).as("header only").isEqualTo(403);
        assertThat(send("GET", "/v1/kv/k", null, "t0k").statusCode()).isEqualTo(200);
        int port = consul.port();
        consul.stop();
        assertThatThrownBy(() -> send("GET", "/v1/kv/k", null, "t0k")).isInstanceOf(java.io.IOException.class);
        consul.start();
        assertThat(consul.port()).isEqualTo(port);
        assertThat(send("GET", "/v1/kv/k", null, "t0k").statusCode()).isEqualTo(200);
        consul.failWith(500);
        assertThat(send("GET", "/v1/kv/k", null, "t0k").statusCode()).isEqualTo(500);
    }

    @Test
    void goDurations() {
        assertThat(ConsulTestServer.waitMillis("5m")).isEqualTo(300_000);
        assertThat(ConsulTestServer.waitMillis("1m30s")).isEqualTo(90_000);
        assertThat(ConsulTestServer.waitMillis("250ms")).isEqualTo(250);
        assertThat(ConsulTestServer.waitMillis("1h")).as("capped at 10m").isEqualTo(600_000);
        assertThat(ConsulTestServer.waitMillis(null)).isEqualTo(300_000);
    }
}
