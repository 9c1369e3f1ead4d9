package io.turnout.config.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * etcd 3.4's v3 JSON gateway on a real socket, for unit tests of the etcd topology source: {@code /v3/kv/range}
 * (prefix ranges, count_only), {@code /v3/watch} (a chunked stream: created, history from start_revision, live
 * events, canceled with compact_revision when that revision was compacted), {@code /v3/auth/authenticate} and
 * token checks, written the way the real gateway writes them (int64 as strings, PUT events without "type").
 * Test controls: {@link #chunkBytes} cuts every message into HTTP chunks of that many bytes (odd places),
 * {@link #compact}, {@link #breakStreams}, {@link #invalidateTokens}, {@link #stop()}/{@link #start()} on the
 * same port, and a log of requests. The integration tests use a real etcd; this one makes the corners exact.
 */
public final class EtcdTestGateway implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // without it the client's delayed ACK adds ~40 ms per chunk (see ConsulTestServer)
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    private record Event(long revision, String key, String value) { // value null = DELETE
    }

    private final String user;
    private final String password;
    private final TreeMap<String, String> kv = new TreeMap<>();
    private final Map<String, Long> modRevisions = new TreeMap<>();
    private final List<Event> history = new ArrayList<>();
    private final List<Watcher> watchers = new CopyOnWriteArrayList<>();
    private final List<String> tokens = new CopyOnWriteArrayList<>();
    /** "range", "watch from=N", "authenticate": what clients asked, in order. */
    public final List<String> requests = new CopyOnWriteArrayList<>();
    private final ExecutorService handlers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "etcd-test-gateway");
        t.setDaemon(true);
        return t;
    });
    private long revision = 1;
    private long compacted;
    private volatile int chunkBytes;
    /** Non-null while frozen: requests wait on it, unanswered, like a stopped (SIGSTOP) etcd. */
    private volatile java.util.concurrent.CountDownLatch frozen;
    private volatile HttpServer server;
    private int port;

    private EtcdTestGateway(String user, String password) {
        this.user = user;
        this.password = password;
    }

    /** Listening on a free port; with a {@code user}, every call needs a token from /v3/auth/authenticate. */
    public static EtcdTestGateway start(String user, String password) throws IOException {
        EtcdTestGateway g = new EtcdTestGateway(user, password);
        g.listen();
        return g;
    }

    private void listen() throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
        s.createContext("/v3/", this::handle);
        s.setExecutor(handlers);
        s.start();
        port = s.getAddress().getPort();
        server = s;
    }

    public URI url() {
        return URI.create("http://127.0.0.1:" + port);
    }

    /** Writes each message in HTTP chunks of {@code n} bytes (0: one chunk per message). */
    public void chunkBytes(int n) {
        chunkBytes = n;
    }

    public synchronized long revision() {
        return revision;
    }

    public synchronized void put(String key, String value) {
        record(new Event(++revision, key, value));
    }

    public synchronized void delete(String key) {
        if (kv.containsKey(key)) {
            record(new Event(++revision, key, null));
        }
    }

    /** Forgets the history before {@code rev}: a watch starting earlier is canceled with compact_revision. */
    public synchronized void compact(long rev) {
        compacted = rev;
        history.removeIf(e -> e.revision() < rev);
    }

    /**
     * Waits until {@code n} watch streams are open and registered for live events: 60 s at most, generous for a
     * busy 2-core CI box (a passing test returns as soon as they are).
     */
    public void awaitWatchers(int n) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (watchers.size() != n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(watchers.size() + " watch streams open, expected " + n);
            }
            Thread.sleep(5);
        }
    }

    /** Every open watch stream's connection drops (a restarted etcd member, a reset). */
    public void breakStreams() {
        watchers.forEach(Watcher::close);
    }

    /** Requests get no answer (connections stay open) until {@link #thaw()}: a frozen host. */
    public void freeze() {
        frozen = new java.util.concurrent.CountDownLatch(1);
    }

    public void thaw() {
        java.util.concurrent.CountDownLatch f = frozen;
        frozen = null;
        if (f != null) {
            f.countDown();
        }
    }

    /** Every token is forgotten, as an etcd restart does to its simple tokens. */
    public void invalidateTokens() {
        tokens.clear();
    }

    /** An outage: the port closes and every connection drops. Data is kept. */
    public synchronized void stop() {
        HttpServer s = server;
        if (s != null) {
            server = null;
            breakStreams();
            s.stop(0);
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
        thaw();
        stop();
        handlers.shutdownNow();
    }

    private void record(Event e) {
        history.add(e);
        if (e.value() == null) {
            kv.remove(e.key());
            modRevisions.remove(e.key());
        } else {
            kv.put(e.key(), e.value());
            modRevisions.put(e.key(), e.revision());
        }
        for (Watcher w : watchers) {
            if (w.matches(e.key())) {
                w.queue.add(eventsMessage(List.of(e)));
            }
        }
    }

    private void handle(HttpExchange x) throws IOException {
        java.util.concurrent.CountDownLatch f = frozen;
        if (f != null) {
            try {
                f.await();
            } catch (InterruptedException e) {
                x.close();
                return;
            }
        }
        JsonNode body = JSON.readTree(x.getRequestBody().readAllBytes());
        String path = x.getRequestURI().getPath();
        String token = x.getRequestHeaders().getFirst("Authorization");
        boolean authorized = user == null || (token != null && tokens.contains(token));
        switch (path) {
            case "/v3/auth/authenticate" -> authenticate(x, body);
            case "/v3/kv/range" -> {
                requests.add("range");
                if (!authorized) {
                    reply(x, 401, JSON.createObjectNode().put("error", "etcdserver: invalid auth token")
                            .put("message", "etcdserver: invalid auth token").put("code", 16));
                } else {
                    reply(x, 200, range(body));
                }
            }
            case "/v3/watch" -> watch(x, body.path("create_request"), authorized);
            default -> reply(x, 404, JSON.createObjectNode().put("error", "Not Found").put("code", 5));
        }
    }

    private void authenticate(HttpExchange x, JsonNode body) throws IOException {
        requests.add("authenticate");
        if (user == null || !user.equals(body.path("name").asText()) || !password.equals(body.path("password").asText())) {
            reply(x, 400, JSON.createObjectNode().put("error", "etcdserver: authentication failed, invalid user ID or"
                    + " password").put("code", 3));
            return;
        }
        String t = UUID.randomUUID().toString().substring(0, 16) + "." + tokens.size();
        tokens.add(t);
        ObjectNode r = JSON.createObjectNode();
        synchronized (this) {
            r.set("header", header());
        }
        reply(x, 200, r.put("token", t));
    }

    private synchronized ObjectNode range(JsonNode body) {
        String from = decode(body.path("key").asText());
        String to = body.has("range_end") ? decode(body.path("range_end").asText()) : null;
        ObjectNode r = JSON.createObjectNode();
        r.set("header", header());
        ArrayNode kvs = r.putArray("kvs");
        Map<String, String> hits = to == null ? (kv.containsKey(from) ? Map.of(from, kv.get(from)) : Map.of())
                : kv.subMap(from, to);
        if (!body.path("count_only").asBoolean(false)) {
            hits.forEach((k, v) -> kvs.addObject().put("key", encode(k)).put("value", encode(v))
                    .put("mod_revision", String.valueOf(modRevisions.get(k))));
        }
        return r.put("count", String.valueOf(hits.size()));
    }

    private void watch(HttpExchange x, JsonNode create, boolean authorized) throws IOException {
        long from = create.path("start_revision").asLong(0);
        requests.add("watch from=" + from);
        Watcher w = new Watcher(x, decode(create.path("key").asText()), decode(create.path("range_end").asText()));
        x.getResponseHeaders().add("Content-Type", "application/json");
        x.sendResponseHeaders(200, 0);
        synchronized (this) {
            ObjectNode created = result();
            ObjectNode cr = (ObjectNode) created.get("result");
            cr.put("created", true);
            w.queue.add(created);
            if (!authorized) {
                cr.put("canceled", true).put("cancel_reason",
                        "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token");
            } else if (from > 0 && from < compacted) {
                ObjectNode canceled = result();
                ((ObjectNode) canceled.get("result")).put("canceled", true).put("compact_revision", String.valueOf(compacted));
                w.queue.add(canceled);
            } else {
                List<Event> missed = history.stream().filter(e -> e.revision() >= from && w.matches(e.key())).toList();
                if (from > 0 && !missed.isEmpty()) {
                    w.queue.add(eventsMessage(missed));
                }
                watchers.add(w);
            }
        }
        w.run();
    }

    /** One watch stream: messages queued by writers, written by the handler thread until the client goes. */
    private final class Watcher {
        private static final ObjectNode CLOSE = JSON.createObjectNode();
        final BlockingQueue<ObjectNode> queue = new LinkedBlockingQueue<>();
        final HttpExchange exchange;
        final String from;
        final String to;

        Watcher(HttpExchange exchange, String from, String to) {
            this.exchange = exchange;
            this.from = from;
            this.to = to;
        }

        boolean matches(String key) {
            return key.compareTo(from) >= 0 && key.compareTo(to) < 0;
        }

        void close() {
            queue.add(CLOSE);
        }

        void run() {
            try (OutputStream out = exchange.getResponseBody()) {
                while (true) {
                    ObjectNode m = queue.take();
                    if (m == CLOSE) {
                        break;
                    }
                    byte[] bytes = (m + "\n").getBytes(StandardCharsets.UTF_8);
                    int n = chunkBytes <= 0 ? bytes.length : chunkBytes;
                    for (int i = 0; i < bytes.length; i += n) {
                        out.write(bytes, i, Math.min(n, bytes.length - i));
                        out.flush(); // one HTTP chunk
                    }
                }
            } catch (IOException | InterruptedException e) {
                // the client went away, or the gateway is closing
            } finally {
                watchers.remove(this);
                exchange.close();
            }
        }
    }

    private ObjectNode eventsMessage(List<Event> events) {
        ObjectNode m = result();
        ObjectNode r = (ObjectNode) m.get("result");
        ((ObjectNode) r.get("header")).put("revision", String.valueOf(events.get(events.size() - 1).revision()));
        ArrayNode evs = r.putArray("events");
        for (Event e : events) {
            ObjectNode ev = evs.addObject();
            ObjectNode kvNode = JSON.createObjectNode().put("key", encode(e.key()))
                    .put("mod_revision", String.valueOf(e.revision()));
            if (e.value() == null) {
                ev.put("type", "DELETE");
            } else {
                kvNode.put("value", encode(e.value()));
            }
            ev.set("kv", kvNode);
        }
        return m;
    }

    private ObjectNode result() {
        ObjectNode m = JSON.createObjectNode();
        m.putObject("result").set("header", header());
        return m;
    }

    private ObjectNode header() {
        return JSON.createObjectNode().put("cluster_id", "14841639068965178418").put("member_id", "10276657743932975437")
                .put("revision", String.valueOf(revision)).put("raft_term", "2");
    }

    private static void reply(HttpExchange x, int status, ObjectNode body) throws IOException {
        byte[] b = body.toString().getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().add("Content-Type", "application/json");
        x.sendResponseHeaders(status, b.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(b);
        }
    }

    private static String encode(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String decode(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    }
}
