package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;
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
    static final Path PATRONICTL = Path.of("/usr/bin/patronictl");
    private static final String DIR_PREFIX = "turnout-patroni-";
    /** Deadlines for a busy 2-core CI box running several clusters at once: many times a quiet machine's. */
    private static final Duration START = Duration.ofSeconds(180);
    private static final Duration AWAIT = Duration.ofSeconds(120);
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Set<PatroniCluster> LIVE = ConcurrentHashMap.newKeySet();

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
        DebianPackages.ensure("postgresql-15", Stream.of("postgres", "initdb", "pg_ctl", "pg_rewind", "pg_basebackup")
                .map(PatroniConfig.PG_BIN::resolve).toList());
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
        OwnedDirs.reapStale(DIR_PREFIX, PatroniNode::reapAll);
        long t0 = System.nanoTime();
        PatroniCluster c = new PatroniCluster(etcd, namespace, scope, OwnedDirs.create(DIR_PREFIX, true), failsafe);
        LIVE.add(c);
        try {
            for (int i = 1; i <= nodes; i++) {
                c.nodes.add(PatroniConfig.newNode(c, c.dir, scope + "-" + i));
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
            List<Future<PatroniCluster>> starts = Stream.of(scopes)
                    .map(s -> pool.submit(() -> start(etcd, DEFAULT_NAMESPACE, s, nodes, failsafe))).toList();
            List<PatroniCluster> started = new ArrayList<>();
            Throwable failure = null;
            for (Future<PatroniCluster> f : starts) {
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
        return Await.value("a matching leader in " + scope, timeout, POLL, () -> {
            String name = leaderName();
            PatroniNode n = name == null ? null : node(name);
            return n != null && which.test(n) && n.isRunningPrimary() && n.isWritable() ? n : null;
        }, this::describe);
    }

    /**
     * Waits until the leader runs, every member whose Patroni runs streams from it (pg_stat_replication), and
     * every such member's key in etcd says so (state running, role master or replica): a replica's REST API can
     * report it running a loop before its key does, and topology sources read the key.
     */
    public void awaitStreaming(Duration timeout) {
        long t0 = System.nanoTime();
        PatroniNode leader = awaitLeader(n -> true, timeout);
        Await.until("members of " + scope + " to stream from " + leader.name(), timeout.minusNanos(System.nanoTime() - t0),
                POLL, () -> {
                    Set<String> streaming = leader.streamingReplicas();
                    List<PatroniNode> running = nodes.stream().filter(PatroniNode::isPatroniRunning).toList();
                    return running.stream().filter(n -> n != leader)
                            .allMatch(n -> streaming.contains(n.name()) && n.isRunningReplica())
                            && running.stream().allMatch(n -> n.isPublished(etcd, memberKey(n.name()), n == leader));
                }, this::describe);
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
        PatroniControl.patronictl(this, "switchover", "Successfully switched over", List.of("--leader", leader.name(),
                "--candidate", candidate.name(), "--force", scope));
        awaitLeader(n -> n == candidate, AWAIT);
        awaitStreaming(AWAIT);
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        log.info("switchover in {}: {} -> {} ({} ms)", scope, leader.name(), candidate.name(), took.toMillis());
        return took;
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
        if (lastKill == null) {
            throw new IllegalStateException("killLeader() was not called on " + scope);
        }
        return KillTiming.await(lastKill, timeout, () -> "no new leader key in " + scope + "\n" + describe());
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
        Await.until(node + " to rejoin " + scope + " as a replica", START, POLL, () -> {
            String leaderName = leaderName();
            return leaderName != null && !leaderName.equals(node.name()) && node.isRunningReplica();
        }, this::describe);
        awaitStreaming(START);
        return Duration.ofNanos(System.nanoTime() - t0);
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
}
