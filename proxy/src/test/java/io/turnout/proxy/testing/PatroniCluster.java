package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Patroni 3.0.2 cluster (Debian's {@code patroni}) of PostgreSQL 15 nodes, with an {@link EtcdServer} as
 * its DCS through Patroni's {@code etcd3} section, for tests of Turnout following real failovers.
 *
 * <p>Each {@link PatroniNode} has its own free PostgreSQL and REST API ports on 127.0.0.1 and its own directory
 * under one {@code /tmp/turnout-patroni-*}. {@code <scope>-1} bootstraps the cluster (initdb) and leads first;
 * the others clone it (pg_basebackup) and stream. Timing: ttl {@value #TTL_SECONDS} s, loop_wait
 * {@value #LOOP_WAIT_SECONDS} s, retry_timeout {@value #RETRY_TIMEOUT_SECONDS} s (Patroni 3.0.2 enforces no
 * relation between them; its docs ask for ttl >= loop_wait + 2 * retry_timeout, which holds). use_pg_rewind
 * with wal_log_hints lets a killed leader rejoin ({@link #restartNode}).
 *
 * <p>Accounts: superuser {@value #SUPERUSER}/{@value #SUPERUSER_PASSWORD}, replication {@value #REPLICATION_USER}
 * /{@value #REPLICATION_PASSWORD}, database {@value #APP_DB}; TCP from 127.0.0.1 uses md5 (SCRAM for these
 * SCRAM-stored passwords), the unix socket is trusted.
 *
 * <p>What Patroni 3.0.2 writes to etcd (v3 keys, namespace {@code /service/} by default, values plain text/JSON):
 * <ul>
 *   <li>{@code /service/<scope>/leader} = the leader's member name, e.g. {@code shard-a-1}, attached to the
 *       leader's lease (ttl): it vanishes ttl after the leader's Patroni dies.
 *   <li>{@code /service/<scope>/members/<name>} = JSON on the member's lease, e.g. {@code {"conn_url":
 *       "postgres://127.0.0.1:41234/postgres","api_url":"http://127.0.0.1:41240/patroni","state":"running",
 *       "role":"master","version":"3.0.2","xlog_location":50331744,"timeline":1}}: conn_url has no user, role is
 *       {@code master} (4.x says {@code primary}) or {@code replica}.
 *   <li>{@code config}, {@code initialize}, {@code status} ({@code {"optime":...}}), {@code history}, and
 *       {@code failover} during a switchover, without lease.
 * </ul>
 *
 * <p>{@link #close()} kills every Patroni and PostgreSQL process and deletes the directory (keys still on a lease
 * expire by themselves); a shutdown hook does the same at JVM exit and the next JVM reaps what a killed one left.
 */
public final class PatroniCluster implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PatroniCluster.class);

    public static final String SUPERUSER = "postgres";
    public static final String SUPERUSER_PASSWORD = "postgres";
    public static final String REPLICATION_USER = "replicator";
    public static final String REPLICATION_PASSWORD = "replicator";
    public static final String APP_DB = "app";
    public static final String DEFAULT_NAMESPACE = "/service/";
    public static final int TTL_SECONDS = 10;
    public static final int LOOP_WAIT_SECONDS = 1;
    public static final int RETRY_TIMEOUT_SECONDS = 4;

    static final Path PATRONI = Path.of("/usr/bin/patroni");
    private static final Path PATRONICTL = Path.of("/usr/bin/patronictl");
    private static final Path PG_BIN = Path.of(System.getenv().getOrDefault("PG_BIN", "/usr/lib/postgresql/15/bin"));
    private static final String DIR_PREFIX = "turnout-patroni-";
    private static final Duration START = Duration.ofSeconds(120);
    private static final Duration AWAIT = Duration.ofSeconds(60);
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Set<PatroniCluster> LIVE = ConcurrentHashMap.newKeySet();
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(PatroniCluster::close), "patroni-shutdown"));
    }

    private final EtcdServer etcd;
    private final String namespace;
    private final String scope;
    private final Path dir;
    private final boolean failsafe;
    private final List<PatroniNode> nodes = new ArrayList<>();
    private volatile CompletableFuture<KillTiming> lastKill;

    private PatroniCluster(EtcdServer etcd, String namespace, String scope, Path dir, boolean failsafe) {
        this.etcd = etcd;
        this.namespace = namespace;
        this.scope = scope;
        this.dir = dir;
        this.failsafe = failsafe;
    }

    /** Installs Debian's {@code patroni} and {@code postgresql-15} if missing (their services kept from starting). */
    public static void ensureInstalled() {
        DebianPackages.ensure("patroni", List.of(PATRONI, PATRONICTL));
        DebianPackages.ensure("postgresql-15", List.of(PG_BIN.resolve("postgres"), PG_BIN.resolve("initdb"),
                PG_BIN.resolve("pg_ctl"), PG_BIN.resolve("pg_rewind"), PG_BIN.resolve("pg_basebackup")));
    }

    /** {@link #start(EtcdServer, String, String, int)} in namespace {@value #DEFAULT_NAMESPACE}. */
    public static PatroniCluster start(EtcdServer etcd, String scope, int nodes) {
        return start(etcd, DEFAULT_NAMESPACE, scope, nodes);
    }

    /**
     * Starts {@code nodes} members {@code <scope>-1..n} and waits until {@code <scope>-1} leads, database
     * {@value #APP_DB} exists and every other member streams from it. {@link #close()} the cluster when done.
     */
    public static PatroniCluster start(EtcdServer etcd, String namespace, String scope, int nodes) {
        return start(etcd, namespace, scope, nodes, false);
    }

    /**
     * As {@link #start(EtcdServer, String, String, int)}; {@code failsafe} sets Patroni's {@code failsafe_mode}
     * (3.0+): while etcd cannot be reached, a leader that still reaches every member over the REST API keeps
     * running as primary instead of demoting itself.
     */
    public static PatroniCluster start(EtcdServer etcd, String namespace, String scope, int nodes, boolean failsafe) {
        if (nodes < 1 || !namespace.startsWith("/") || !namespace.endsWith("/")) {
            throw new IllegalArgumentException("nodes >= 1 and a namespace like /service/ please");
        }
        ensureInstalled();
        OwnedDirs.reapStale(DIR_PREFIX, PatroniCluster::reap);
        long t0 = System.nanoTime();
        PatroniCluster c = new PatroniCluster(etcd, namespace, scope, OwnedDirs.create(DIR_PREFIX, true), failsafe);
        LIVE.add(c);
        try {
            for (int i = 1; i <= nodes; i++) {
                String name = scope + "-" + i;
                Path nodeDir = Files.createDirectory(c.dir.resolve(name));
                OwnedDirs.chownToPostgres(nodeDir);
                PatroniNode n = new PatroniNode(name, OwnedDirs.freePort(), OwnedDirs.freePort(), nodeDir);
                PatroniConfig.write(c, n, etcd.hostPort(), PG_BIN);
                c.nodes.add(n);
            }
            PatroniNode first = c.nodes.get(0);
            first.launch();
            c.awaitLeader(n -> n == first, START);
            try (Connection conn = first.connect("postgres"); Statement st = conn.createStatement()) {
                st.execute("create database " + APP_DB);
            }
            c.nodes.stream().skip(1).forEach(PatroniNode::launch);
            c.awaitStreaming(START);
        } catch (Exception | AssertionError e) {
            String logs = c.describe();
            c.close();
            throw new IllegalStateException("Patroni cluster " + scope + " did not start\n" + logs, e);
        }
        log.info("Patroni cluster {} ({} nodes, etcd {}) started in {} ms: {}", scope, nodes, etcd.endpoint(),
                (System.nanoTime() - t0) / 1_000_000, c.nodes);
        return c;
    }

    /**
     * Starts one cluster per scope at the same time (each as {@link #start(EtcdServer, String, int)}), as a test
     * of several shards wants them; if one fails, the others are closed.
     */
    public static List<PatroniCluster> startAll(EtcdServer etcd, int nodes, String... scopes) {
        return startAll(etcd, nodes, false, scopes);
    }

    /** {@link #startAll(EtcdServer, int, String...)} with Patroni's failsafe_mode on or off. */
    public static List<PatroniCluster> startAll(EtcdServer etcd, int nodes, boolean failsafe, String... scopes) {
        // a thread each: the common pool may have a single worker on a 2-core machine
        ExecutorService pool = Executors.newFixedThreadPool(scopes.length);
        try {
            List<Callable<PatroniCluster>> starts = new ArrayList<>();
            for (String s : scopes) {
                starts.add(() -> start(etcd, DEFAULT_NAMESPACE, s, nodes, failsafe));
            }
            List<PatroniCluster> started = new ArrayList<>();
            Throwable failure = null;
            for (Future<PatroniCluster> f : pool.invokeAll(starts)) {
                try {
                    started.add(f.get());
                } catch (ExecutionException e) {
                    failure = failure == null ? e.getCause() : failure;
                }
            }
            if (failure != null) {
                started.forEach(PatroniCluster::close);
                throw new IllegalStateException("could not start every Patroni cluster", failure);
            }
            return started;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        } finally {
            pool.shutdownNow();
        }
    }

    public String scope() {
        return scope;
    }

    /** Whether Patroni's failsafe_mode is on (set at bootstrap). */
    public boolean failsafe() {
        return failsafe;
    }

    /** The DCS namespace, e.g. {@code /service/}. */
    public String namespace() {
        return namespace;
    }

    public EtcdServer etcd() {
        return etcd;
    }

    public List<PatroniNode> nodes() {
        return List.copyOf(nodes);
    }

    public PatroniNode node(String name) {
        return nodes.stream().filter(n -> n.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no member " + name + " in " + scope));
    }

    /** {@code <namespace><scope>/leader}, e.g. {@code /service/shard-a/leader}. */
    public String leaderKey() {
        return namespace + scope + "/leader";
    }

    /** {@code <namespace><scope>/members/<name>}. */
    public String memberKey(String name) {
        return namespace + scope + "/members/" + name;
    }

    /**
     * The leader's name by Patroni's REST API (GET /cluster from the first member that answers: the member with
     * role leader), or null when no member answers or none leads.
     */
    public String leaderName() {
        for (PatroniNode n : nodes) {
            JsonNode cluster = n.restGet("/cluster");
            if (cluster == null) {
                continue;
            }
            for (JsonNode m : cluster.path("members")) {
                if (m.path("role").asText().equals("leader")) {
                    return m.path("name").asText();
                }
            }
            return null;
        }
        return null;
    }

    /** The current leader (by {@link #leaderName()}); fails if there is none right now. */
    public PatroniNode leader() {
        String name = leaderName();
        if (name == null) {
            throw new IllegalStateException("cluster " + scope + " has no leader right now\n" + describe());
        }
        return node(name);
    }

    /** Every member but the current leader, whatever its state (a killed one included). */
    public List<PatroniNode> replicas() {
        PatroniNode leader = leader();
        return nodes.stream().filter(n -> n != leader).toList();
    }

    /**
     * Waits until a member matching {@code which} holds the leader key (per the REST API), reports itself
     * running and not in recovery, and takes SQL connections out of recovery; returns it.
     */
    public PatroniNode awaitLeader(Predicate<PatroniNode> which, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            String name = leaderName();
            if (name != null) {
                PatroniNode n = node(name);
                if (which.test(n) && n.isRunningPrimary() && n.isWritable()) {
                    return n;
                }
            }
            OwnedDirs.sleep(POLL);
        }
        throw new AssertionError("no matching leader in " + scope + " within " + timeout.toSeconds() + " s\n"
                + describe());
    }

    /**
     * Waits until the leader runs, every member whose Patroni runs streams from it (pg_stat_replication), and
     * every such member's key in etcd says so (state running, role master or replica): a replica's REST API can
     * report it running a loop before its key does, and topology sources read the key.
     */
    public void awaitStreaming(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        PatroniNode leader = awaitLeader(n -> true, timeout);
        while (System.nanoTime() < deadline) {
            Set<String> streaming = leader.streamingReplicas();
            PatroniNode l = leader;
            boolean all = nodes.stream().filter(n -> n != l && n.isPatroniRunning())
                    .allMatch(n -> streaming.contains(n.name()) && n.isRunningReplica());
            if (all && nodes.stream().filter(PatroniNode::isPatroniRunning).allMatch(n -> published(n, n == l))) {
                return;
            }
            OwnedDirs.sleep(POLL);
        }
        throw new AssertionError("members of " + scope + " not all streaming from " + leader.name() + " within "
                + timeout.toSeconds() + " s\n" + describe());
    }

    /**
     * A planned switchover to a streaming replica with {@code patronictl switchover --leader L --candidate C
     * --force}; waits until C leads and L streams from it. Returns how long all that took.
     */
    public Duration switchover() {
        long t0 = System.nanoTime();
        PatroniNode leader = awaitLeader(n -> true, AWAIT);
        PatroniNode candidate = nodes.stream().filter(n -> n != leader && n.isPatroniRunning()).findFirst()
                .orElseThrow(() -> new IllegalStateException("no running replica to switch over to in " + scope));
        Processes.Result r = Processes.run(AWAIT, List.of(PATRONICTL.toString(), "-c", leader.configFile().toString(),
                "switchover", "--leader", leader.name(), "--candidate", candidate.name(), "--force", scope),
                PatroniNode.cleanEnv(), dir, null);
        if (!r.ok() || !r.stdout().contains("Successfully switched over")) {
            throw new AssertionError("patronictl switchover failed (exit " + r.exitCode() + ")\n--- stdout ---\n"
                    + r.stdout() + "\n--- stderr ---\n" + r.stderr() + "\n" + describe());
        }
        awaitLeader(n -> n == candidate, AWAIT);
        awaitStreaming(AWAIT);
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        log.info("switchover in {}: {} -> {} ({} ms)", scope, leader.name(), candidate.name(), took.toMillis());
        return took;
    }

    /** {@code patronictl -c <first member's config> args...} (the config only names etcd and the scope). */
    Processes.Result patronictl(Duration timeout, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(PATRONICTL.toString(), "-c", nodes.get(0).configFile().toString()));
        cmd.addAll(args);
        return Processes.run(timeout, cmd, PatroniNode.cleanEnv(), dir, null);
    }

    /**
     * kill -9 of the current leader's Patroni and PostgreSQL (a dead host); returns at once with the killed
     * node. A watcher polls etcd's leader key from then on: see {@link #awaitNewLeaderKey}.
     */
    public PatroniNode killLeader() {
        PatroniNode leader = leader();
        long t0 = System.nanoTime();
        leader.kill();
        lastKill = KillTiming.watch(etcd, leaderKey(), leader.name(), t0);
        log.info("killed leader {} of {}", leader, scope);
        return leader;
    }

    /** Waits until the leader key names another member than the one {@link #killLeader()} killed. */
    public KillTiming awaitNewLeaderKey(Duration timeout) {
        CompletableFuture<KillTiming> f = lastKill;
        if (f == null) {
            throw new IllegalStateException("killLeader() was not called on " + scope);
        }
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new AssertionError("no new leader key in " + scope + " within " + timeout.toSeconds() + " s\n"
                    + describe(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /**
     * Starts a killed member's Patroni again; waits until it streams from the leader (Patroni rewinds it with
     * pg_rewind, or clones it afresh if that fails). Returns how long that took.
     */
    public Duration restartNode(PatroniNode node) {
        long t0 = System.nanoTime();
        ProcessHandle pm = node.postmaster();
        if (pm != null && pm.isAlive()) {
            throw new IllegalStateException(node + " still has a postmaster running; kill it first");
        }
        node.launch();
        long deadline = System.nanoTime() + START.toNanos();
        while (System.nanoTime() < deadline) {
            String leaderName = leaderName();
            if (leaderName != null && !leaderName.equals(node.name()) && node.isRunningReplica()) {
                awaitStreaming(Duration.ofNanos(Math.max(deadline - System.nanoTime(), 0)));
                return Duration.ofNanos(System.nanoTime() - t0);
            }
            OwnedDirs.sleep(POLL);
        }
        throw new AssertionError(node + " did not rejoin " + scope + " as a replica\n" + describe());
    }

    /** Every member's REST view and log tail plus the cluster's etcd keys: for failure messages. */
    public String describe() {
        StringBuilder sb = new StringBuilder("--- cluster ").append(scope).append(" ---\n");
        try {
            etcd.getPrefix(namespace + scope + "/").forEach((k, v) -> sb.append(k).append(" = ").append(v).append('\n'));
        } catch (RuntimeException e) {
            sb.append("(etcd: ").append(e).append(")\n");
        }
        for (PatroniNode n : nodes) {
            sb.append("--- ").append(n).append(" patroni ").append(n.isPatroniRunning() ? "running" : "not running")
                    .append(", /patroni ").append(n.status()).append(" ---\n").append(n.logTail(25)).append('\n');
        }
        return sb.toString();
    }

    /** Kills every Patroni, then every PostgreSQL, and deletes the cluster's directory. */
    @Override
    public void close() {
        if (!LIVE.remove(this)) {
            return;
        }
        long t0 = System.nanoTime();
        nodes.forEach(PatroniNode::kill);
        OwnedDirs.deleteTree(dir);
        log.info("Patroni cluster {} closed in {} ms", scope, (System.nanoTime() - t0) / 1_000_000);
    }

    @Override
    public String toString() {
        return "PatroniCluster[" + scope + ", " + nodes.stream().map(PatroniNode::toString)
                .collect(Collectors.joining(", ")) + "]";
    }

    // ------------------------------------------------------------------------------------------ internals

    /** Whether the member key in etcd says running, with the role expected. */
    private boolean published(PatroniNode n, boolean leader) {
        try {
            String v = etcd.get(memberKey(n.name()));
            JsonNode m = v == null ? null : JSON.readTree(v);
            return m != null && m.path("state").asText().equals("running")
                    && (leader ? PatroniNode.isPrimaryRole(m.path("role").asText()) : m.path("role").asText().equals("replica"));
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    /** Stops what a dead JVM's cluster left running: each member's Patroni first, then its postmaster. */
    private static void reap(Path clusterDir) {
        try (var members = Files.list(clusterDir)) {
            members.filter(Files::isDirectory).forEach(PatroniNode::reap);
        } catch (java.io.IOException e) {
            log.warn("could not list {}: {}", clusterDir, e.toString());
        }
    }
}
