package io.turnout.config.topology;

import io.turnout.config.ConsulConfig;
import io.turnout.config.Pem;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consul's KV HTTP API as the watchers need it: GETs with the token header, over TLS when the URL says
 * https, against the current address of the configured list. Not thread-safe: the source's loop thread
 * calls it and handles the replies.
 */
final class ConsulHttp {
    private static final Logger LOG = LoggerFactory.getLogger(ConsulHttp.class);
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final AtomicInteger THREADS = new AtomicInteger();

    /** One KV reply: status 200 or 404 carry {@code index} from X-Consul-Index (0 when absent). */
    record Reply(URI base, int status, long index, String body) {
    }

    private final List<URI> urls;
    private final ConsulConfig config;
    private final HttpClient client;
    private final ExecutorService httpExecutor;
    private int current;
    private String token;

    ConsulHttp(ConsulConfig config) throws IOException, GeneralSecurityException {
        this.config = config;
        this.urls = config.urls();
        // the client's completions only hand over to the loop thread, so a few short-lived threads do;
        // daemon so that a forgotten source never keeps the JVM alive
        this.httpExecutor = new ThreadPoolExecutor(0, 4, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, "turnout-consul-http-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, new ThreadPoolExecutor.CallerRunsPolicy());
        HttpClient.Builder b = HttpClient.newBuilder()
                // HTTP/1.1: one connection per outstanding blocking query, exactly what Consul expects
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER)
                .executor(httpExecutor);
        if (urls.stream().anyMatch(u -> "https".equalsIgnoreCase(u.getScheme()))) {
            b.sslContext(Pem.sslContext(config.caFile(), config.certFile(), config.keyFile(), config.verify()));
        }
        this.client = b.build();
        this.token = readToken();
    }

    URI currentUrl() {
        return urls.get(current);
    }

    /**
     * GET {@code /v1/kv/<key>?<query>}. The future completes on an HTTP client thread; callers move to
     * their own thread before touching state.
     */
    CompletableFuture<Reply> get(String key, String query, Duration timeout) {
        URI base = urls.get(current);
        String prefix = base.getRawPath() == null ? "" : base.getRawPath().replaceAll("/+$", "");
        URI uri = URI.create(base.getScheme() + "://" + base.getRawAuthority() + prefix + "/v1/kv/" + encodePath(key)
                + (query.isEmpty() ? "" : "?" + query));
        HttpRequest.Builder req = HttpRequest.newBuilder(uri).timeout(timeout).GET();
        if (token != null) {
            // header only: a ?token= query parameter would end up in access logs
            req.header("X-Consul-Token", token);
        }
        return client.sendAsync(req.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8))
                .thenApply(r -> new Reply(base, r.statusCode(),
                        r.headers().firstValue("X-Consul-Index").map(ConsulHttp::parseIndex).orElse(0L), r.body()));
    }

    /** The address {@code failed} did not answer properly; the next request goes to the next one. */
    void failed(URI failed) {
        if (urls.size() > 1 && urls.get(current).equals(failed)) {
            current = (current + 1) % urls.size();
            LOG.info("consul_switch_address from={} to={}", failed, urls.get(current));
        }
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
        // idle client threads end by themselves; in-flight requests were cancelled by the watches
        httpExecutor.shutdown();
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
