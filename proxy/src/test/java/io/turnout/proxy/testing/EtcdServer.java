package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
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
 * the same gateway ({@link EtcdClient}), so a test sees exactly what Patroni wrote.
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
    private static final Duration AWAIT = Duration.ofSeconds(90);
    private static final Set<EtcdServer> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(EtcdServer::close), "etcd-shutdown"));
    }

    private final Path dir;
    private final int clientPort;
    private final ServerProcess process;
    private final EtcdClient client;

    private EtcdServer(Path dir, int clientPort, int peerPort) {
        this.dir = dir;
        this.clientPort = clientPort;
        this.client = new EtcdClient(endpoint());
        String peer = "http://" + HOST + ":" + peerPort;
        String clientUrl = endpoint();
        this.process = new ServerProcess("etcd", List.of(ETCD.toString(),
                "--name", "turnout-test",
                "--data-dir", dir.resolve("data").toString(),
                "--listen-client-urls", clientUrl,
                "--advertise-client-urls", clientUrl,
                "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "turnout-test=" + peer,
                "--initial-cluster-state", "new", // ignored when data/ already exists, as after stop()
                "--initial-cluster-token", dir.getFileName().toString(),
                "--logger", "zap", // 3.4's default capnslog logger is deprecated and says so at every start
                "--log-outputs", "stderr"), dir)
                // an ETCD_* variable in the environment would silently override a flag (etcd reads them as config)
                .withoutEnv("ETCD");
    }

    /** Installs Debian's {@code etcd-server} package if etcd is missing (its own service is kept from starting). */
    public static void ensureInstalled() {
        DebianPackages.ensure("etcd-server", List.of(ETCD));
    }

    /** Starts a new single-node etcd on free ports and waits until /health says it is healthy. */
    public static EtcdServer start() {
        ensureInstalled();
        OwnedDirs.reapStale(DIR_PREFIX);
        long t0 = System.nanoTime();
        return FreePorts.retry("etcd", () -> {
            EtcdServer etcd = new EtcdServer(OwnedDirs.create(DIR_PREFIX, false), FreePorts.pick(), FreePorts.pick());
            LIVE.add(etcd);
            try {
                etcd.process.startAndAwait(AWAIT, etcd::healthy);
            } catch (RuntimeException | AssertionError e) {
                etcd.close();
                throw e;
            }
            log.info("etcd on {} in {} ({} ms)", etcd.endpoint(), etcd.dir, (System.nanoTime() - t0) / 1_000_000);
            return etcd;
        });
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
        return process.isAlive();
    }

    /** Kills etcd (SIGKILL, like a crashed host) and keeps its data and ports for {@link #restart()}. */
    public synchronized void stop() {
        process.kill();
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
        process.startAndAwait(AWAIT, this::healthy);
    }

    /** The value of {@code key} as UTF-8 text, or null if there is no such key. */
    public String get(String key) {
        return client.get(key);
    }

    /** Every key starting with {@code prefix} and its value, in key order (etcd's range order). */
    public Map<String, String> getPrefix(String prefix) {
        return client.getPrefix(prefix);
    }

    /** Puts a key without a lease. */
    public void put(String key, String value) {
        client.put(key, value);
    }

    /** Deletes a key; returns how many keys were deleted (0 or 1). */
    public int delete(String key) {
        return client.delete(key);
    }

    /** POSTs to etcd's JSON gateway (e.g. {@code /v3/kv/range}) and returns the answer; fails on a non-200. */
    public JsonNode post(String path, JsonNode body) {
        return client.post(path, body, null);
    }

    /** {@link #post(String, JsonNode)} with an auth token (from /v3/auth/authenticate) once auth is enabled. */
    public JsonNode post(String path, JsonNode body, String token) {
        return client.post(path, body, token);
    }

    /** GET /version: {@code {"etcdserver":"3.4.23","etcdcluster":"3.4.0"}}, which Patroni reads first. */
    public String version() {
        return client.getText("/version");
    }

    public String logTail(int lines) {
        return process.logTail(lines);
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

    /** Whether GET /health says healthy (false while etcd is not listening or has no leader yet). */
    private boolean healthy() {
        try {
            return client.getText("/health").contains("\"health\":\"true\"");
        } catch (UncheckedIOException | IllegalStateException e) {
            return false;
        }
    }
}
