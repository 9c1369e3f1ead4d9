package io.turnout.config.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.turnout.config.Pem;
import io.turnout.config.testing.ConsulTestKv.Entry;
import io.turnout.config.testing.ConsulTestKv.Result;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * Consul's KV HTTP API on a real socket, for tests: GET (one key, {@code ?recurse}, {@code ?keys&separator=}),
 * PUT ({@code acquire}, {@code release}, {@code cas}, {@code flags}), DELETE ({@code recurse}, {@code cas}),
 * blocking queries as Consul documents them ({@code index} + {@code wait}, up to wait/16 jitter,
 * X-Consul-Index on every reply including 404), ACL token in X-Consul-Token (403 otherwise), TLS with an
 * optionally required client certificate. Test controls: {@link #stop()}/{@link #start()} on the same port,
 * {@link #resetIndex(long)}, {@link #failWith(int)} and per-key request counts. {@link PatroniWriter}
 * (via {@link #patroni()}) writes keys the way Patroni does.
 */
public final class ConsulTestServer implements AutoCloseable {
    private static final Pattern GO_DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)");
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // the JDK server writes headers and body separately; with Nagle on, the client's delayed ACK adds
        // ~40 ms per reply, which would swamp the latencies the tests measure. Read once, at first use.
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    /** What a client sent, for assertions (token header, query string). */
    public record Request(String method, String key, String rawQuery, String token) {
    }

    /** A reply read from the KV store and then held back: {@code arrived} counts down, {@code release} lets it go. */
    public record Hold(String key, java.util.concurrent.CountDownLatch arrived, java.util.concurrent.CountDownLatch release) {
    }

    private final java.util.concurrent.atomic.AtomicReference<Hold> hold = new java.util.concurrent.atomic.AtomicReference<>();

    private final ConsulTestKv kv = new ConsulTestKv(100);
    private final String token;
    private final TestCerts tls;
    private final boolean requireClientCert;
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final ExecutorService handlers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "consul-test-server");
        t.setDaemon(true);
        return t;
    });
    private final PatroniWriter patroni;
    private volatile HttpServer server;
    private volatile int failStatus;
    private int port;

    private ConsulTestServer(String token, TestCerts tls, boolean requireClientCert, String namespace) {
        this.token = token;
        this.tls = tls;
        this.requireClientCert = requireClientCert;
        this.patroni = new PatroniWriter(this, namespace);
    }

    /** Plain HTTP, no ACLs, Patroni namespace "service"; already listening on a free port. */
    public static ConsulTestServer start(String token) throws IOException {
        return new ConsulTestServer(token, null, false, "service").listen();
    }

    /** HTTPS with {@code certs.serverCert()}; {@code requireClientCert} demands a cert signed by the test CA. */
    public static ConsulTestServer startTls(String token, TestCerts certs, boolean requireClientCert) throws IOException {
        return new ConsulTestServer(token, certs, requireClientCert, "service").listen();
    }

    private ConsulTestServer listen() throws IOException {
        InetSocketAddress addr = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        HttpServer s;
        if (tls != null) {
            HttpsServer https = HttpsServer.create(addr, 64);
            SSLContext ctx;
            try {
                ctx = Pem.sslContext(tls.caCert(), tls.serverCert(), tls.serverKey(), true);
            } catch (java.security.GeneralSecurityException e) {
                throw new IOException(e);
            }
            https.setHttpsConfigurator(new HttpsConfigurator(ctx) {
                @Override
                public void configure(HttpsParameters params) {
                    SSLParameters p = ctx.getDefaultSSLParameters();
                    p.setNeedClientAuth(requireClientCert);
                    params.setSSLParameters(p);
                }
            });
            s = https;
        } else {
            s = HttpServer.create(addr, 64);
        }
        s.createContext("/v1/kv/", this::handle);
        s.setExecutor(handlers);
        s.start();
        port = s.getAddress().getPort();
        server = s;
        return this;
    }

    /** {@code http://127.0.0.1:<port>} or https. */
    public URI url() {
        return URI.create((tls != null ? "https" : "http") + "://127.0.0.1:" + port);
    }

    public int port() {
        return port;
    }

    /** An outage: the port closes and every open connection (blocking queries included) drops. Data is kept. */
    public synchronized void stop() {
        HttpServer s = server;
        if (s != null) {
            server = null;
            s.stop(0);
            kv.wakeAll();
        }
    }

    /** Back on the same port after {@link #stop()}. */
    public synchronized void start() throws IOException {
        if (server == null) {
            listen();
        }
    }

    @Override
    public void close() {
        stop();
        handlers.shutdownNow();
    }

    /** Answer every request with this HTTP status (e.g. 500) until called with 0. */
    public void failWith(int status) {
        failStatus = status;
    }

    /**
     * The next GET of {@code key} is answered from the store as it is when the request arrives, but only sent
     * once the test releases it: a reply in flight across a {@link #resetIndex} (a snapshot restore).
     */
    public Hold holdNextReply(String key) {
        Hold h = new Hold(key, new java.util.concurrent.CountDownLatch(1), new java.util.concurrent.CountDownLatch(1));
        hold.set(h);
        return h;
    }

    public void resetIndex(long n) {
        kv.resetIndex(n);
    }

    public long index() {
        return kv.index();
    }

    public void put(String key, String value) {
        kv.put(key, value.getBytes(StandardCharsets.UTF_8), null, null, null, 0);
    }

    /** PUT with {@code ?acquire=<session>}, as Patroni writes its leader and member keys. */
    public void acquire(String key, String value, String session) {
        kv.put(key, value.getBytes(StandardCharsets.UTF_8), null, session, null, 0);
    }

    public String get(String key) {
        Entry e = kv.get(key);
        return e == null ? null : new String(e.value(), StandardCharsets.UTF_8);
    }

    /** The session holding {@code key}'s lock, or null. */
    public String session(String key) {
        Entry e = kv.get(key);
        return e == null ? null : e.session();
    }

    public void delete(String key) {
        kv.delete(key, false, null);
    }

    /** DELETE ?recurse: every key under {@code prefix}, e.g. a whole Patroni cluster "service/shard-b/". */
    public void deletePrefix(String prefix) {
        kv.delete(prefix, true, null);
    }

    public PatroniWriter patroni() {
        return patroni;
    }

    /** Patroni's leader key for {@code scope} naming {@code member} (namespace "service"). */
    public void patroniLeader(String scope, String member) {
        patroni.leader(scope, member);
    }

    /** Patroni's member JSON for a running member with this role. */
    public void patroniMember(String scope, String name, String host, int port, String role) {
        patroni.member(scope, name, host, port, role);
    }

    /** The leader key disappears, as when the leader's session expires or it releases the lock. */
    public void deleteLeader(String scope) {
        patroni.deleteLeader(scope);
    }

    /** See {@link PatroniWriter#switchover}. */
    public void patroniSwitchover(String scope, String from, String to, java.time.Duration leaderless)
            throws InterruptedException {
        patroni.switchover(scope, from, to, leaderless);
    }

    /** Requests that named this key (any method, any query), since the start. */
    public int requests(String key) {
        AtomicInteger n = counts.get(key);
        return n == null ? 0 : n.get();
    }

    public List<Request> requestLog() {
        return List.copyOf(requests);
    }

    private void handle(HttpExchange ex) {
        try {
            String key = URLDecoder.decode(ex.getRequestURI().getRawPath().substring("/v1/kv/".length()), StandardCharsets.UTF_8);
            Map<String, String> q = query(ex.getRequestURI().getRawQuery());
            String sent = ex.getRequestHeaders().getFirst("X-Consul-Token");
            counts.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
            requests.add(new Request(ex.getRequestMethod(), key, ex.getRequestURI().getRawQuery(), sent));
            ex.getResponseHeaders().set("X-Consul-KnownLeader", "true");
            ex.getResponseHeaders().set("X-Consul-LastContact", "0");
            if (failStatus != 0) {
                reply(ex, failStatus, kv.index(), "rpc error: No cluster leader");
                return;
            }
            if (token != null && !token.equals(sent)) {
                reply(ex, 403, 0, "ACL not found");
                return;
            }
            switch (ex.getRequestMethod()) {
                case "GET" -> get(ex, key, q);
                case "PUT" -> {
                    byte[] body = ex.getRequestBody().readAllBytes();
                    boolean ok = kv.put(key, body, longParam(q, "cas"), q.get("acquire"), q.get("release"),
                            q.containsKey("flags") ? Long.parseLong(q.get("flags")) : 0);
                    reply(ex, 200, kv.index(), Boolean.toString(ok));
                }
                case "DELETE" -> reply(ex, 200, kv.index(),
                        Boolean.toString(kv.delete(key, q.containsKey("recurse"), longParam(q, "cas"))));
                default -> reply(ex, 405, 0, "method not allowed");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IllegalArgumentException e) {
            // Consul answers a malformed index or wait with 400
            try {
                reply(ex, 400, 0, "Invalid request: " + e.getMessage());
            } catch (IOException ignored) {
                // client gone
            }
        } catch (IOException e) {
            // the client went away or stop() dropped the connection: nothing to answer
        } finally {
            ex.close();
        }
    }

    private void get(HttpExchange ex, String key, Map<String, String> q) throws IOException, InterruptedException {
        boolean list = q.containsKey("recurse") || q.containsKey("keys");
        Long min = longParam(q, "index");
        HttpServer me = server;
        Result r = min != null && min > 0
                ? kv.await(key, list, min, waitMillis(q.get("wait")), () -> server != me)
                : kv.read(key, list);
        Hold h = hold.get();
        if (h != null && h.key().equals(key) && hold.compareAndSet(h, null)) {
            h.arrived().countDown();
            h.release().await();
        }
        if (server != me) {
            return; // stopped while blocked: the connection is already closed
        }
        if (q.containsKey("keys")) {
            String sep = q.get("separator");
            LinkedHashSet<String> keys = new LinkedHashSet<>();
            for (Entry e : r.entries()) {
                int i = sep == null || sep.isEmpty() ? -1 : e.key().indexOf(sep, key.length());
                keys.add(i < 0 ? e.key() : e.key().substring(0, i + sep.length()));
            }
            reply(ex, keys.isEmpty() ? 404 : 200, r.index(), keys.isEmpty() ? "" : JSON.writeValueAsString(keys));
            return;
        }
        if (r.entries().isEmpty()) {
            reply(ex, 404, r.index(), "");
            return;
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Entry e : r.entries()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("LockIndex", e.lockIndex());
            m.put("Key", e.key());
            m.put("Flags", e.flags());
            m.put("Value", e.value().length == 0 ? null : Base64.getEncoder().encodeToString(e.value()));
            if (e.session() != null) {
                m.put("Session", e.session());
            }
            m.put("CreateIndex", e.createIndex());
            m.put("ModifyIndex", e.modifyIndex());
            out.add(m);
        }
        reply(ex, 200, r.index(), JSON.writeValueAsString(out));
    }

    private static void reply(HttpExchange ex, int status, long index, String body) throws IOException {
        if (index > 0) {
            ex.getResponseHeaders().set("X-Consul-Index", Long.toString(index));
        }
        ex.getResponseHeaders().set("Content-Type", "application/json");
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
        if (b.length > 0) {
            try (OutputStream os = ex.getResponseBody()) {
                os.write(b);
            }
        }
    }

    /** Consul's wait: Go duration syntax, default 5 minutes, at most 10. */
    static long waitMillis(String wait) {
        if (wait == null || wait.isEmpty()) {
            return 300_000;
        }
        Matcher m = GO_DURATION.matcher(wait);
        double ms = 0;
        int end = 0;
        while (m.find() && m.start() == end) {
            double v = Double.parseDouble(m.group(1));
            ms += switch (m.group(2)) {
                case "ns" -> v / 1e6;
                case "us", "µs" -> v / 1e3;
                case "ms" -> v;
                case "s" -> v * 1e3;
                case "m" -> v * 60e3;
                default -> v * 3600e3;
            };
            end = m.end();
        }
        if (end != wait.length()) {
            throw new IllegalArgumentException("bad wait " + wait);
        }
        return Math.min((long) ms, 600_000);
    }

    private static Long longParam(Map<String, String> q, String name) {
        String v = q.get(name);
        return v == null || v.isEmpty() ? null : Long.parseLong(v);
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> q = new LinkedHashMap<>();
        if (raw != null) {
            for (String part : raw.split("&")) {
                int eq = part.indexOf('=');
                String k = URLDecoder.decode(eq < 0 ? part : part.substring(0, eq), StandardCharsets.UTF_8);
                q.put(k, eq < 0 ? "" : URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return q;
    }
}
