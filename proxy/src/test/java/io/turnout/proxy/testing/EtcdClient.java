package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tests' own client of etcd's v3 API through its gRPC JSON gateway ({@code <endpoint>/v3/...}, POST, keys
 * and values base64), as Patroni's etcd3 DCS uses it: what {@link EtcdServer}'s key methods run.
 */
final class EtcdClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(15);

    private final String endpoint;

    EtcdClient(String endpoint) {
        this.endpoint = endpoint;
    }

    /** The value of {@code key} as UTF-8 text, or null if there is no such key. */
    String get(String key) {
        JsonNode kvs = range(encode(key), null).path("kvs");
        return kvs.isEmpty() ? null : decode(kvs.get(0).path("value").asText());
    }

    /** Every key starting with {@code prefix} and its value, in key order (etcd's range order). */
    Map<String, String> getPrefix(String prefix) {
        Map<String, String> out = new LinkedHashMap<>();
        for (JsonNode kv : range(encode(prefix), prefixEnd(prefix)).path("kvs")) {
            out.put(decode(kv.path("key").asText()), decode(kv.path("value").asText()));
        }
        return out;
    }

    /** Puts a key without a lease. */
    void put(String key, String value) {
        ObjectNode body = JSON.createObjectNode().put("key", encode(key)).put("value", encode(value));
        post("/v3/kv/put", body, null);
    }

    /** Deletes a key; returns how many keys were deleted (0 or 1). */
    int delete(String key) {
        return post("/v3/kv/deleterange", JSON.createObjectNode().put("key", encode(key)), null).path("deleted")
                .asInt(0);
    }

    /**
     * POSTs to etcd's JSON gateway (e.g. {@code /v3/kv/range}) and returns the answer; fails on a non-200.
     * {@code token} (from /v3/auth/authenticate, once auth is enabled) may be null.
     */
    JsonNode post(String path, JsonNode body, String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(endpoint + path))
                .timeout(REQUEST_TIMEOUT)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (token != null) {
            b.header("Authorization", token);
        }
        String answer = send(b.build(), "POST " + path + " " + body);
        try {
            return JSON.readTree(answer);
        } catch (IOException e) {
            throw new UncheckedIOException("POST " + endpoint + path + " answered no JSON: " + answer, e);
        }
    }

    /** GET {@code path} as text (/version, /health); fails on a non-200. */
    String getText(String path) {
        return send(HttpRequest.newBuilder(URI.create(endpoint + path)).timeout(REQUEST_TIMEOUT).GET().build(),
                "GET " + path);
    }

    private static String send(HttpRequest req, String what) {
        try {
            HttpResponse<String> resp = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 200) {
                throw new IllegalStateException(what + " answered " + resp.statusCode() + ": " + resp.body());
            }
            return resp.body();
        } catch (IOException e) {
            throw new UncheckedIOException(what + " to " + req.uri(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** A range request; both arguments are base64 already (a range end need not be valid UTF-8). */
    private JsonNode range(String key, String rangeEnd) {
        ObjectNode body = JSON.createObjectNode().put("key", key);
        if (rangeEnd != null) {
            body.put("range_end", rangeEnd);
        }
        return post("/v3/kv/range", body, null);
    }

    /** etcd's prefix convention, in base64: the range end is the prefix with its last byte incremented. */
    private static String prefixEnd(String prefix) {
        byte[] b = prefix.getBytes(StandardCharsets.UTF_8);
        if (b.length == 0 || b[b.length - 1] == (byte) 0xff) {
            throw new IllegalArgumentException("unsupported prefix '" + prefix + "'");
        }
        b[b.length - 1]++;
        return Base64.getEncoder().encodeToString(b);
    }

    static String encode(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    static String decode(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    }
}
