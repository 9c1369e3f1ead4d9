package io.turnout.config.topology;

import com.fasterxml.jackson.databind.JsonNode;
import io.turnout.config.EtcdConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * etcd's v3 JSON gateway over the JDK client: unary POSTs (range) and watch streams against the current
 * address of the configured list, with etcd's simple-token auth when a user is configured (POST
 * /v3/auth/authenticate, then the token in the Authorization header; a reply saying the token is invalid
 * or older than the auth store drops it, and the next request authenticates again).
 */
final class EtcdHttp {
    private static final Logger LOG = LoggerFactory.getLogger(EtcdHttp.class);
    static final Duration AUTH_TIMEOUT = Duration.ofSeconds(10);

    /** A unary reply: the status and the JSON body (an error object when the status is not 200). */
    record Reply(URI base, int status, JsonNode body) {
    }

    private final EtcdConfig config;
    private final DcsHttp http;
    /** Set and cleared from HTTP threads and the loop; a lost race only costs one more authentication. */
    private volatile String token;

    EtcdHttp(EtcdConfig config) throws IOException, GeneralSecurityException {
        this.config = config;
        this.http = new DcsHttp("etcd", config.urls(), config.caFile(), config.certFile(), config.keyFile(),
                config.verify());
    }

    URI currentUrl() {
        return http.currentUrl();
    }

    int addresses() {
        return http.size();
    }

    void failed(URI base) {
        http.failed(base);
    }

    /** etcd refused the token (expired, or issued before the auth store changed): authenticate again. */
    void tokenRejected() {
        token = null;
    }

    /**
     * POSTs {@code body} to {@code path} (e.g. {@code /v3/kv/range}) at the current address; an answer that
     * the token is no good is retried once with a new one. Completes on an HTTP client thread.
     */
    CompletableFuture<Reply> post(String path, JsonNode body, Duration timeout) {
        URI base = http.currentUrl();
        return authenticated(base).thenCompose(t -> send(base, path, body, timeout, t)).thenCompose(r -> {
            if (config.username() == null || r.status() == 200 || !EtcdKv.isAuthError(EtcdKv.error(r.body()))) {
                return CompletableFuture.completedFuture(r);
            }
            token = null;
            return authenticated(base).thenCompose(t -> send(base, path, body, timeout, t));
        });
    }

    /**
     * Opens a watch stream: POST /v3/watch with {@code body}; the reply's bytes (JSON objects, an error object
     * included) go to {@code subscriber} as they arrive. The future fails when no response comes at all.
     */
    CompletableFuture<HttpResponse<Void>> watch(URI base, JsonNode body, Flow.Subscriber<List<ByteBuffer>> subscriber,
            Duration headersTimeout) {
        return authenticated(base).thenCompose(t -> http.client().sendAsync(request(base, "/v3/watch", body,
                headersTimeout, t), HttpResponse.BodyHandlers.fromSubscriber(subscriber)));
    }

    void close() {
        http.close();
    }

    private CompletableFuture<Reply> send(URI base, String path, JsonNode body, Duration timeout, String t) {
        return http.client().sendAsync(request(base, path, body, timeout, t),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).thenApply(r -> {
                    try {
                        return new Reply(base, r.statusCode(), EtcdKv.JSON.readTree(r.body()));
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(new IOException("HTTP " + r.statusCode()
                                + " with a body that is not JSON: " + DcsHttp.snippet(r.body())));
                    }
                });
    }

    private static HttpRequest request(URI base, String path, JsonNode body, Duration timeout, String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(DcsHttp.resolve(base, path)).timeout(timeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (token != null) {
            b.header("Authorization", token); // etcd's gateway takes the bare token, no "Bearer"
        }
        return b.build();
    }

    /** The token to send (null without auth), authenticating first when none is held. */
    private CompletableFuture<String> authenticated(URI base) {
        String t = token;
        if (config.username() == null || t != null) {
            return CompletableFuture.completedFuture(t);
        }
        String password;
        try {
            password = password();
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
        JsonNode body = EtcdKv.JSON.createObjectNode().put("name", config.username()).put("password", password);
        return send(base, "/v3/auth/authenticate", body, AUTH_TIMEOUT, null).thenApply(r -> {
            String error = EtcdKv.error(r.body());
            String fresh = r.body().path("token").asText("");
            if (r.status() != 200 || error != null || fresh.isEmpty()) {
                throw new java.io.UncheckedIOException(new IOException("authentication as " + config.username()
                        + " failed: HTTP " + r.status() + " " + (error != null ? error : EtcdKv.snippet(r.body()))));
            }
            LOG.info("etcd_authenticated url={} user={}", base, config.username());
            token = fresh;
            return fresh;
        });
    }

    /** Inline, or read from password_file at each authentication (so a rotated file is picked up). */
    private String password() throws IOException {
        if (config.passwordFile() == null) {
            return config.password() == null ? "" : config.password();
        }
        return Files.readString(config.passwordFile(), StandardCharsets.UTF_8).strip();
    }
}
