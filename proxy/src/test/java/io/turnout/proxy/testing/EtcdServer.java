package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node etcd (Debian's {@code etcd-server}, 3.4) on free 127.0.0.1 client and peer ports, with its
 * data in a fresh {@code /tmp/turnout-etcd-*} directory: the DCS of {@link PatroniCluster}s, and what Turnout's
 * etcd topology source talks to.
 *
 * <p>Clients use the v3 API through etcd's gRPC JSON gateway at {@code <endpoint>/v3/...} (POST, keys and values
 * base64). etcd 3.4 serves it at {@code /v3/} and still at the deprecated {@code /v3beta/}; Patroni 3.0.2's etcd3
 * DCS GETs {@code /version} first and picks {@code /v3} for a cluster version of 3.4 or later. No v2 API is
 * needed ({@code --enable-v2} stays off). {@link #get}, {@link #getPrefix}, {@link #put} and {@link #delete} use
 * the same gateway, so a test sees exactly what Patroni wrote.
 *
 * <p>{@link #stop()} kills etcd but keeps its data and ports; {@link #restart()} brings it back on the same ports
 * (for "etcd was down for a while" tests; another process could take a port in between, which fails the start
 * loudly). {@link #close()} kills it and deletes the directory; a shutdown hook does the same at JVM exit, and
 * the next JVM reaps what a killed one left. etcd does not refuse root, so it runs as whoever the JVM is.
 */
public final class EtcdServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EtcdServer.class);

    public static final String HOST = OwnedDirs.HOST;
    private static final Path ETCD = Path.of(System.getenv().getOrDefault("ETCD_BIN", "/usr/bin/etcd"));
    private static final String DIR_PREFIX = "turnout-etcd-";
    private static final Duration AWAIT = Duration.ofSeconds(30);
    private static final int PORT_ATTEMPTS = 5;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final Set<EtcdServer> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(EtcdServer::close), "etcd-shutdown"));
    }

    private final Path dir;
    private final int clientPort;
    private final int peerPort;
    private volatile Process process;

    private EtcdServer(Path dir, int clientPort, int peerPort) {
        this.dir = dir;
        this.clientPort = clientPort;
        this.peerPort = peerPort;
    }

    /** Installs Debian's {@code etcd-server} package if etcd is missing (its own service is kept from starting). */
    public static void ensureInstalled() {
        DebianPackages.ensure("etcd-server", List.of(ETCD));
    }

    /** Starts a new single-node etcd on free ports and waits until /health says it is healthy. */
    public static EtcdServer start() {
        ensureInstalled();
        OwnedDirs.reapStale(DIR_PREFIX, d -> OwnedDirs.killTree(OwnedDirs.tagged(d.resolve("pid"))));
        long t0 = System.nanoTime();
        for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
            Path dir = OwnedDirs.create(DIR_PREFIX, false);
            EtcdServer etcd = new EtcdServer(dir, OwnedDirs.freePort(), OwnedDirs.freePort());
            LIVE.add(etcd);
            String problem = etcd.launchAndAwait();
            if (problem == null) {
                log.info("etcd on {} in {} ({} ms)", etcd.endpoint(), dir, (System.nanoTime() - t0) / 1_000_000);
                return etcd;
            }
            etcd.close();
            if (!problem.contains("address already in use") || attempt == PORT_ATTEMPTS) {
                throw new IllegalStateException("etcd did not become healthy: " + problem);
            }
            log.info("a port was taken before etcd could bind it; retrying on others");
        }
        throw new AssertionError("unreachable");
    }

    /** {@code http://127.0.0.1:<client port>}: what clients and Turnout's etcd source connect to. */
    public String endpoint() {
        return "http://" + HOST + ":" + clientPort;
    }

    /** {@code 127.0.0.1:<client port>}, as Patroni's {@code etcd3.hosts} wants it. */
    public String hostPort() {
        return HOST + ":" + clientPort;
    }

    public int clientPort() {
        return clientPort;
    }

    public boolean isRunning() {
        Process p = process;
        return p != null && p.isAlive();
    }

    /** Kills etcd (SIGKILL, like a crashed host) and keeps its data and ports for {@link #restart()}. */
    public synchronized void stop() {
        Process p = process;
        if (p != null) {
            OwnedDirs.killTree(p.toHandle());
            process = null;
        }
    }

    /**
     * Stops etcd if it is running (as {@link #stop()}), then starts it again on the same ports with the same
     * data, and waits for health. Named like {@link PgServer#restart()}; the static {@link #start()} makes a new one.
     */
    public synchronized void restart() {
        if (!LIVE.contains(this)) {
            throw new IllegalStateException(this + " is closed");
        }
        stop();
        String problem = launchAndAwait();
        if (problem != null) {
            throw new IllegalStateException("etcd did not come back on " + endpoint() + ": " + problem);
        }
    }

    /** The value of {@code key} as UTF-8 text, or null if there is no such key. */
    public String get(String key) {
        JsonNode kvs = range(encode(key), null).path("kvs");
        return kvs.isEmpty() ? null : decode(kvs.get(0).path("value").asText());
    }

    /** Every key starting with {@code prefix} and its value, in key order (etcd's range order). */
    public Map<String, String> getPrefix(String prefix) {
        Map<String, String> out = new LinkedHashMap<>();
        for (JsonNode kv : range(encode(prefix), prefixEnd(prefix)).path("kvs")) {
            out.put(decode(kv.path("key").asText()), decode(kv.path("value").asText()));
        }
        return out;
    }

    /** Puts a key without a lease. */
    public void put(String key, String value) {
        ObjectNode body = JSON.createObjectNode().put("key", encode(key)).put("value", encode(value));
        post("/v3/kv/put", body);
    }

    /** Deletes a key; returns how many keys were deleted (0 or 1). */
    public int delete(String key) {
        return post("/v3/kv/deleterange", JSON.createObjectNode().put("key", encode(key))).path("deleted").asInt(0);
    }

    /** POSTs to etcd's JSON gateway (e.g. {@code /v3/kv/range}) and returns the answer; fails on a non-200. */
    public JsonNode post(String path, JsonNode body) {
        return post(path, body, null);
    }

    /** {@link #post(String, JsonNode)} with an auth token (from /v3/auth/authenticate) once auth is enabled. */
    public JsonNode post(String path, JsonNode body, String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(endpoint() + path))
                .timeout(Duration.ofSeconds(5))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (token != null) {
            b.header("Authorization", token);
        }
        HttpRequest req = b.build();
        try {
            HttpResponse<String> resp = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 200) {
                throw new IllegalStateException("POST " + path + " " + body + " answered " + resp.statusCode()
                        + ": " + resp.body());
            }
            return JSON.readTree(resp.body());
        } catch (IOException e) {
            throw new UncheckedIOException("POST " + endpoint() + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** GET /version: {@code {"etcdserver":"3.4.23","etcdcluster":"3.4.0"}}, which Patroni reads first. */
    public String version() {
        return getText("/version");
    }

    public String logTail(int lines) {
        return OwnedDirs.tail(dir.resolve("etcd.log"), lines);
    }

    /** Kills etcd and deletes its directory. */
    @Override
    public synchronized void close() {
        stop();
        if (LIVE.remove(this)) {
            OwnedDirs.deleteTree(dir);
        }
    }

    @Override
    public String toString() {
        return "EtcdServer[" + endpoint() + ", " + dir + "]";
    }

    // ------------------------------------------------------------------------------------------ internals

    /** Launches etcd and waits for health; null when healthy, else what went wrong (with the log's tail). */
    private String launchAndAwait() {
        String peer = "http://" + HOST + ":" + peerPort;
        ProcessBuilder pb = new ProcessBuilder(ETCD.toString(),
                "--name", "turnout-test",
                "--data-dir", dir.resolve("data").toString(),
                "--listen-client-urls", endpoint(),
                "--advertise-client-urls", endpoint(),
                "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "turnout-test=" + peer,
                "--initial-cluster-state", "new", // ignored when data/ already exists, as after stop()
                "--initial-cluster-token", dir.getFileName().toString(),
                "--logger", "zap", // 3.4's default capnslog logger is deprecated and says so at every start
                "--log-outputs", "stderr")
                .directory(dir.toFile())
                .redirectErrorStream(true)
                // a file, not a pipe nobody drains: etcd logs for as long as it runs
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("etcd.log").toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        // an ETCD_* variable in the environment would silently override a flag (etcd reads them as config)
        pb.environment().keySet().removeIf(k -> k.startsWith("ETCD"));
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + ETCD, e);
        }
        OwnedDirs.writePid(dir.resolve("pid"), process.toHandle());
        long deadline = System.nanoTime() + AWAIT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                return "etcd exited with code " + process.exitValue() + "\n--- etcd.log (tail) ---\n" + logTail(30);
            }
            try {
                if (getText("/health").contains("\"health\":\"true\"")) {
                    return null;
                }
            } catch (UncheckedIOException | IllegalStateException e) {
                // not listening yet, or no leader yet
            }
            OwnedDirs.sleep(Duration.ofMillis(50));
        }
        stop();
        return "not healthy within " + AWAIT.toSeconds() + " s\n--- etcd.log (tail) ---\n" + logTail(30);
    }

    private String getText(String path) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(endpoint() + path)).timeout(Duration.ofSeconds(5)).GET()
                .build();
        try {
            HttpResponse<String> resp = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 200) {
                throw new IllegalStateException("GET " + path + " answered " + resp.statusCode() + ": " + resp.body());
            }
            return resp.body();
        } catch (IOException e) {
            throw new UncheckedIOException("GET " + endpoint() + path, e);
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
        return post("/v3/kv/range", body);
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

    private static String encode(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String decode(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    }
}
