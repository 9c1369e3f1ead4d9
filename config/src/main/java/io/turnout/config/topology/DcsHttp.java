package io.turnout.config.topology;

import io.turnout.config.Pem;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP side every DCS client shares: one JDK client (HTTP/1.1, TLS from PEM files when an address is
 * https) on a few daemon threads, and the list of addresses with the one in use, moved on when it fails.
 */
final class DcsHttp {
    private static final Logger LOG = LoggerFactory.getLogger(DcsHttp.class);
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final String dcs;
    private final List<URI> urls;
    private final HttpClient client;
    private final ExecutorService executor;
    private volatile int current;

    DcsHttp(String dcs, List<URI> urls, Path caFile, Path certFile, Path keyFile, boolean verify)
            throws IOException, GeneralSecurityException {
        this.dcs = dcs;
        this.urls = List.copyOf(urls);
        // the client's completions only hand over to the loop thread, so a few short-lived threads do;
        // daemon so that a forgotten source never keeps the JVM alive
        this.executor = new ThreadPoolExecutor(0, 4, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, "turnout-" + dcs + "-http-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, new ThreadPoolExecutor.CallerRunsPolicy());
        HttpClient.Builder b = HttpClient.newBuilder()
                // HTTP/1.1: one connection per outstanding long poll or watch stream, and no h2 surprise from
                // etcd's port, which speaks gRPC over h2 to clients that ask for it
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER)
                .executor(executor);
        if (urls.stream().anyMatch(u -> "https".equalsIgnoreCase(u.getScheme()))) {
            b.sslContext(Pem.sslContext(caFile, certFile, keyFile, verify));
        }
        this.client = b.build();
    }

    HttpClient client() {
        return client;
    }

    URI currentUrl() {
        return urls.get(current);
    }

    /** {@code base} + {@code path}, keeping a path prefix the configured URL may have. */
    static URI resolve(URI base, String path) {
        String prefix = base.getRawPath() == null ? "" : base.getRawPath().replaceAll("/+$", "");
        return URI.create(base.getScheme() + "://" + base.getRawAuthority() + prefix + path);
    }

    int size() {
        return urls.size();
    }

    /** The address {@code failed} did not answer properly; the next request goes to the next one. */
    void failed(URI failed) {
        int i = current;
        if (urls.size() > 1 && urls.get(i).equals(failed)) {
            current = (i + 1) % urls.size();
            LOG.info("{}_switch_address from={} to={}", dcs, failed, urls.get(current));
        }
    }

    void close() {
        // idle client threads end by themselves; in-flight requests were cancelled by the watches
        executor.shutdown();
    }

    /** A failed future's cause, as a log-friendly text. */
    static String describe(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m != null ? ": " + m : "");
    }

    static String snippet(String body) {
        String b = body == null ? "" : body.strip().replaceAll("\\s+", " ");
        return b.length() > 200 ? b.substring(0, 200) + "..." : b;
    }
}
