package io.turnout.config.topology;

import io.turnout.config.ConsulConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consul's KV HTTP API as the watchers need it: GETs with the token header, over TLS when the URL says
 * https, against the current address of the configured list. Not thread-safe: the source's loop thread
 * calls it and handles the replies.
 */
final class ConsulHttp {
    private static final Logger LOG = LoggerFactory.getLogger(ConsulHttp.class);

    /** One KV reply: status 200 or 404 carry {@code index} from X-Consul-Index (0 when absent). */
    record Reply(URI base, int status, long index, String body) {
    }

    private final ConsulConfig config;
    private final DcsHttp http;
    private String token;

    ConsulHttp(ConsulConfig config) throws IOException, GeneralSecurityException {
        this.config = config;
        this.http = new DcsHttp("consul", config.urls(), config.caFile(), config.certFile(), config.keyFile(),
                config.verify());
        this.token = readToken();
    }

    URI currentUrl() {
        return http.currentUrl();
    }

    /**
     * GET {@code /v1/kv/<key>?<query>}. The future completes on an HTTP client thread; callers move to
     * their own thread before touching state.
     */
    CompletableFuture<Reply> get(String key, String query, Duration timeout) {
        URI base = http.currentUrl();
        URI uri = DcsHttp.resolve(base, "/v1/kv/" + encodePath(key) + (query.isEmpty() ? "" : "?" + query));
        HttpRequest.Builder req = HttpRequest.newBuilder(uri).timeout(timeout).GET();
        if (token != null) {
            // header only: a ?token= query parameter would end up in access logs
            req.header("X-Consul-Token", token);
        }
        return http.client().sendAsync(req.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8))
                .thenApply(r -> new Reply(base, r.statusCode(),
                        r.headers().firstValue("X-Consul-Index").map(ConsulHttp::parseIndex).orElse(0L), r.body()));
    }

    /** The address {@code failed} did not answer properly; the next request goes to the next one. */
    void failed(URI failed) {
        http.failed(failed);
    }

    /** Consul said 403: the token may have been rotated on disk since it was read. */
    void reloadToken() {
        try {
            token = readToken();
        } catch (IOException e) {
            LOG.warn("consul_error token_file={} error={}", config.tokenFile(), e.toString());
        }
    }

    void close() {
        http.close();
    }

    private String readToken() throws IOException {
        if (config.tokenFile() == null) {
            return null;
        }
        String t = Files.readString(config.tokenFile(), StandardCharsets.UTF_8).strip();
        return t.isEmpty() ? null : t;
    }

    private static long parseIndex(String s) {
        try {
            return Long.parseUnsignedLong(s.strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Percent-encodes each path segment, keeping the slashes (a trailing one lists a prefix). */
    static String encodePath(String key) {
        StringBuilder sb = new StringBuilder();
        for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
                sb.append((char) c);
            } else {
                sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return sb.toString();
    }

    /** Every watch reading through this client (one source, one Consul). */
    private final java.util.List<ConsulWatch> watches = new java.util.concurrent.CopyOnWriteArrayList<>();

    void register(ConsulWatch w) {
        watches.add(w);
    }

    void unregister(ConsulWatch w) {
        watches.remove(w);
    }

    /** {@code seenBy} found the index lower than before: Consul was restored; every other watch starts over. */
    void indexWentBackwards(ConsulWatch seenBy) {
        for (ConsulWatch w : watches) {
            if (w != seenBy) {
                w.indexReset();
            }
        }
    }
}
