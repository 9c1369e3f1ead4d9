package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * One member of a {@link PatroniCluster}: a real {@code patroni} process (run as the postgres OS user through
 * runuser when the JVM is root) managing one PostgreSQL 15 server. Whether it is the leader depends on the
 * cluster's history; ask {@link PatroniCluster#leader()}.
 *
 * <p>Its directory ({@link #dir()}) holds {@code patroni.yml}, {@code patroni.log} (Patroni's log and, as
 * Patroni passes its stderr on, the postmaster's), {@code pgpass}, the unix socket and {@code data/}.
 */
public final class PatroniNode {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    /**
     * The inherited variables removed before running patroni or patronictl: PATRONI_* ones override the config
     * file; PG* ones would reach pg_basebackup, pg_rewind and libpq; PYTHON* ones could point /usr/bin/python3
     * at another interpreter's modules.
     */
    private static final String[] ENV_PREFIXES = {"PATRONI", "PG", "PYTHON"};

    private final String name;
    private final int pgPort;
    private final int restPort;
    private final Path dir;
    /** {@code patroni patroni.yml}; it bootstraps, clones, rewinds or just starts PostgreSQL as needed. */
    private final ServerProcess patroni;

    PatroniNode(String name, int pgPort, int restPort, Path dir) {
        this.name = name;
        this.pgPort = pgPort;
        this.restPort = restPort;
        this.dir = dir;
        this.patroni = new ServerProcess("patroni", OwnedDirs.asPostgres(List.of(PatroniCluster.PATRONI.toString(),
                configFile().toString())), dir).withoutEnv(ENV_PREFIXES);
    }

    /** The Patroni member name: {@code <scope>-<n>}; also its application_name when it streams. */
    public String name() {
        return name;
    }

    public String host() {
        return OwnedDirs.HOST;
    }

    public int pgPort() {
        return pgPort;
    }

    /** The port of Patroni's REST API (/patroni, /cluster, /primary, ...). */
    public int restPort() {
        return restPort;
    }

    /** {@code http://127.0.0.1:<restPort>}. */
    public String restUrl() {
        return "http://" + host() + ":" + restPort;
    }

    public Path dir() {
        return dir;
    }

    public Path dataDir() {
        return dir.resolve("data");
    }

    public Path configFile() {
        return dir.resolve("patroni.yml");
    }

    public Path logFile() {
        return dir.resolve("patroni.log");
    }

    public String jdbcUrl(String db) {
        return "jdbc:postgresql://" + host() + ":" + pgPort + "/" + db;
    }

    /** Connects over TCP as the superuser ({@value PatroniCluster#SUPERUSER}, password the same). */
    public Connection connect(String db) throws SQLException {
        return connect(PatroniCluster.SUPERUSER, PatroniCluster.SUPERUSER_PASSWORD, db);
    }

    /** A short connect timeout: the probes of {@link PatroniCluster} ask nodes that may be down or hung. */
    public Connection connect(String user, String password, String db) throws SQLException {
        return PgSql.connect(jdbcUrl(db), user, password, Duration.ofSeconds(5), Duration.ofSeconds(30));
    }

    /** pg_is_in_recovery() over JDBC: true on a replica (or a leader still promoting). */
    public boolean isInRecovery() throws SQLException {
        try (Connection c = connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select pg_is_in_recovery()")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /** Whether pg_is_in_recovery() answers false over JDBC (a connection failure counts as not writable). */
    public boolean isWritable() {
        try {
            return !isInRecovery();
        } catch (SQLException e) {
            return false;
        }
    }

    /**
     * Whether Patroni's own view (GET /patroni) is: PostgreSQL running out of recovery (role master; 4.x says
     * primary) and the leader key held by someone (no {@code cluster_unlocked}).
     */
    public boolean isRunningPrimary() {
        JsonNode st = status();
        return st != null && st.path("state").asText().equals("running") && isPrimaryRole(st.path("role").asText())
                && !st.has("cluster_unlocked");
    }

    /** Whether Patroni's own view (GET /patroni) is: PostgreSQL running in recovery (role replica). */
    public boolean isRunningReplica() {
        JsonNode st = status();
        return st != null && st.path("state").asText().equals("running") && st.path("role").asText().equals("replica");
    }

    /** The application_names of the replicas streaming from this node, by its /patroni {@code replication}. */
    public Set<String> streamingReplicas() {
        Set<String> names = new TreeSet<>();
        JsonNode st = status();
        if (st != null) {
            for (JsonNode r : st.path("replication")) {
                if (r.path("state").asText().equals("streaming")) {
                    names.add(r.path("application_name").asText());
                }
            }
        }
        return names;
    }

    /** Whether this node's Patroni process is alive (it may be killed by {@link PatroniCluster#killLeader()}). */
    public boolean isPatroniRunning() {
        return patroni.isAlive();
    }

    /**
     * GET {@code /patroni}: this node's own view ({@code state}, {@code role} master/replica by pg_is_in_recovery,
     * {@code timeline}, {@code replication} = its walsenders, {@code cluster_unlocked} when nobody holds the
     * leader key), or null when the REST API does not answer.
     */
    public JsonNode status() {
        return restGet("/patroni");
    }

    /** GET a REST API path as JSON, or null when the API does not answer (any status code is accepted). */
    public JsonNode restGet(String path) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(restUrl() + path)).timeout(Duration.ofSeconds(3)).GET()
                .build();
        try {
            String body = HTTP.send(req, HttpResponse.BodyHandlers.ofString()).body();
            return body.isBlank() ? null : JSON.readTree(body);
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** {@code method} (POST, DELETE) of a REST API path with a JSON body (or none); returns status and body. */
    HttpResponse<String> restSend(String method, String path, String json) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(restUrl() + path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(json)).build();
        try {
            return HTTP.send(req, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + restUrl() + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    public String logTail(int lines) {
        return patroni.logTail(lines);
    }

    @Override
    public String toString() {
        return name + "[pg " + host() + ":" + pgPort + ", rest " + restPort + "]";
    }

    // -------------------------------------------------------------------------- lifecycle, for the cluster

    /** The inherited variables to remove before running patronictl (null values, as {@link Processes#run} takes them). */
    static Map<String, String> cleanEnv() {
        Map<String, String> env = new HashMap<>();
        System.getenv().keySet().stream().filter(k -> Stream.of(ENV_PREFIXES).anyMatch(k::startsWith))
                .forEach(k -> env.put(k, null));
        return env;
    }

    /** Whether this member's key in etcd ({@code key}) says running, as leader or as replica. */
    boolean isPublished(EtcdServer etcd, String key, boolean leader) {
        try {
            String v = etcd.get(key);
            JsonNode m = v == null ? null : JSON.readTree(v);
            return m != null && m.path("state").asText().equals("running")
                    && (leader ? isPrimaryRole(m.path("role").asText()) : m.path("role").asText().equals("replica"));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Patroni 3.x says master, 4.x primary. */
    static boolean isPrimaryRole(String role) {
        return role.equals("master") || role.equals("primary");
    }

    /** kill -9 of Patroni alone (runuser and its children): PostgreSQL, not its child, runs on. */
    void killPatroniOnly() {
        patroni.kill();
    }

    /** The running Patroni process (runuser's child when the tests run as root), or null. */
    ProcessHandle patroniProcess() {
        ProcessHandle h = patroni.handle();
        if (h == null || !h.isAlive()) {
            return null;
        }
        return OwnedDirs.runningAsRoot() ? h.children().findFirst().orElse(null) : h;
    }

    /** Starts Patroni; it must not be running. */
    void launch() {
        patroni.start();
    }

    /**
     * kill -9 of Patroni (first, so it cannot restart PostgreSQL or hand over the leader key) and then of the
     * postmaster and every backend: what a dead host looks like to the rest of the cluster. The leader key and
     * member key stay in etcd until their lease (ttl) runs out.
     */
    synchronized void kill() {
        patroni.kill(); // runuser, patroni and whatever patroni runs (pg_basebackup, ...)
        Processes.destroyTree(postmaster());
    }

    /** Stops what a dead JVM's cluster left running: each member's Patroni (by its pid file), then PostgreSQL. */
    static void reapAll(Path clusterDir) {
        OwnedDirs.killTagged(clusterDir);
        try (var members = Files.list(clusterDir)) {
            members.filter(Files::isDirectory)
                    .forEach(d -> new PatroniNode(d.getFileName().toString(), 0, 0, d).kill());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + clusterDir, e);
        }
    }

    /** The running postmaster named by data/postmaster.pid, or null. PostgreSQL is not Patroni's child. */
    ProcessHandle postmaster() {
        try {
            String first = Files.readAllLines(dataDir().resolve("postmaster.pid")).get(0).strip();
            return ProcessHandle.of(Long.parseLong(first))
                    .filter(h -> h.info().command().map(c -> c.endsWith("/postgres")).orElse(false))
                    .orElse(null);
        } catch (IOException | RuntimeException e) {
            return null; // no pid file: not running
        }
    }
}
