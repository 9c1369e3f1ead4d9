package io.turnout.proxy.testing;

import io.turnout.proxy.testing.PgServer.Role;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL primary and one streaming replica, as a Patroni-managed shard has, for failover tests.
 *
 * <p>Both nodes are {@link PgServer}s (same roles, passwords and {@code app} database; own directory, own
 * port, run as the postgres OS user when root). The replica is a pg_basebackup copy of the primary (with
 * {@code -R}) that streams over TCP as the superuser with its password, as a real replica would, under
 * {@code application_name} = its node name. Roles move between the two {@link Node}s: {@link #primary()} and
 * {@link #replica()} always answer the current ones.
 *
 * <p>Failover: {@link #killPrimary()} then {@link #promoteReplica()}; the old primary stays down until
 * {@link #reinitReplica()} rebuilds it from the new one. Planned: {@link #switchover()}, after which the old
 * primary streams from the new one, so it can be repeated back and forth.
 *
 * <p>Commits are asynchronous here (PgServer's synchronous_commit=off) and so is replication: a write is on
 * the replica only after {@link #awaitReplicaCaughtUp()}, and a kill may lose the last ones. {@link #close()}
 * stops both servers and deletes their directories; PgServer's shutdown hook does the same at JVM exit.
 */
public final class PgShard implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PgShard.class);

    /** Deadlines for a busy 2-core CI box: many times what a quiet machine needs. */
    private static final Duration BASEBACKUP_TIMEOUT = Duration.ofSeconds(180);
    private static final Duration AWAIT = Duration.ofSeconds(120);

    /** One PostgreSQL server of the shard; which role it has depends on the shard's history. */
    public static final class Node {
        private final String name;
        private final PgServer server;

        private Node(String name, PgServer server) {
            this.name = name;
            this.server = server;
        }

        /** {@code node1} (the first primary) or {@code node2}; also its application_name when it streams. */
        public String name() {
            return name;
        }

        public String host() {
            return server.host();
        }

        public int port() {
            return server.port();
        }

        /** The server itself: JDBC URL, socket dir, log, bin(), ... */
        public PgServer server() {
            return server;
        }

        public Connection connect(Role role, String db) throws SQLException {
            return server.connect(role, db);
        }

        public Connection connect(String user, String password, String db) throws SQLException {
            return server.connect(user, password, db);
        }

        /** SQL as the superuser through psql over the unix socket; see {@link PgServer#psql(String, String)}. */
        public String psql(String db, String sql) {
            return server.psql(db, sql);
        }

        public boolean isInRecovery() {
            return "t".equals(psql("postgres", "select pg_is_in_recovery()"));
        }

        public boolean isRunning() {
            return server.isRunning();
        }

        @Override
        public String toString() {
            return name + "[" + host() + ":" + port() + "]";
        }
    }

    private volatile Node primary;
    private volatile Node replica;

    private PgShard(Node primary, Node replica) {
        this.primary = primary;
        this.replica = replica;
    }

    /** Starts a primary and a replica streaming from it; {@link #close()} the shard when done. */
    public static PgShard start() {
        long t0 = System.nanoTime();
        PgServer first = PgServer.start();
        PgServer second = null;
        try {
            // WAL a standby that was away for a while (a switchover's old primary) still needs; no slot, as
            // a slot would pin WAL forever on a node that never comes back
            first.psql("postgres", "ALTER SYSTEM SET wal_keep_size = '256MB';\nSELECT pg_reload_conf();");
            Node node1 = new Node("node1", first);
            second = PgServer.startCopy(s -> basebackup(s, node1, "node2"));
            PgShard shard = new PgShard(node1, new Node("node2", second));
            shard.awaitStreaming();
            log.info("shard primary={} replica={} started ({} ms)", shard.primary, shard.replica,
                    (System.nanoTime() - t0) / 1_000_000);
            return shard;
        } catch (RuntimeException | Error e) {
            if (second != null) {
                second.close();
            }
            first.close();
            throw e;
        }
    }

    public Node primary() {
        return primary;
    }

    public Node replica() {
        return replica;
    }

    /** Crashes the primary (pg_ctl stop -m immediate); the replica keeps its role until {@link #promoteReplica()}. */
    public synchronized void killPrimary() {
        primary.server().kill();
        log.info("shard killed primary {}", primary);
    }

    /**
     * Promotes the replica (pg_ctl promote) and waits until it accepts writes; it becomes {@link #primary()} and
     * the old primary, which is still running unless it was killed, becomes {@link #replica()} without
     * following anyone: stop it, or {@link #reinitReplica()}. Returns how long the promotion took.
     */
    public synchronized Duration promoteReplica() {
        long t0 = System.nanoTime();
        Node next = replica;
        next.server().promote();
        await(() -> !next.isInRecovery(), next + " to leave recovery after pg_ctl promote");
        swapRoles();
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        log.info("shard promoted {} ({} ms)", next, took.toMillis());
        return took;
    }

    /**
     * Planned switchover: stops the primary cleanly (-m fast, so its walsender ships everything up to the
     * shutdown checkpoint), waits until the replica has replayed that checkpoint, promotes the replica, then
     * starts the old primary as its standby and waits until it streams. No pg_rewind: the old primary's WAL
     * ends at the checkpoint the new timeline forks after, so it can simply follow. Returns how long it took.
     */
    public synchronized Duration switchover() {
        long t0 = System.nanoTime();
        awaitStreaming(); // a replica that is behind or disconnected would lose writes or fork too early
        Node old = primary;
        Node next = replica;
        old.server().stop();
        String checkpoint = controlData(old, "Latest checkpoint location");
        String state = controlData(old, "Database cluster state");
        if (!state.equals("shut down")) {
            throw new AssertionError(old + " is '" + state + "' after pg_ctl stop -m fast, not 'shut down'");
        }
        await(() -> "t".equals(next.psql("postgres",
                        "select pg_last_wal_replay_lsn() > '" + checkpoint + "'::pg_lsn")),
                next + " to replay " + old + "'s shutdown checkpoint at " + checkpoint);
        next.server().promote();
        await(() -> !next.isInRecovery(), next + " to leave recovery after pg_ctl promote");
        swapRoles();
        follow(old, next);
        old.server().restart();
        awaitStreaming();
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        log.info("shard switchover to {} ({} ms)", next, took.toMillis());
        return took;
    }

    /**
     * Rebuilds the replica from the primary with a fresh pg_basebackup (what Patroni calls reinit), for an old
     * primary that was killed and may hold WAL the new primary never saw. Keeps its port. Waits until it streams.
     */
    public synchronized void reinitReplica() {
        Node stale = replica;
        Node source = primary;
        stale.server().recopy(s -> basebackup(s, source, stale.name()));
        awaitStreaming();
        log.info("shard rebuilt {} from {}", stale, source);
    }

    /**
     * One more standby of the current primary, a pg_basebackup copy streaming under {@code name} (its
     * application_name), for a shard with several replicas. It takes no part in the shard's role changes; close it
     * when done. Waits until it streams.
     */
    public PgServer startStandby(String name) {
        Node source = primary;
        PgServer standby = PgServer.startCopy(s -> basebackup(s, source, name));
        try {
            await(() -> "1".equals(source.psql("postgres", "select count(*) from pg_stat_replication"
                    + " where application_name = '" + name + "' and state = 'streaming'")), name + " to stream from "
                    + source);
        } catch (RuntimeException | Error e) {
            standby.close();
            throw e;
        }
        log.info("shard standby {} on port {} streams from {}", name, standby.port(), source);
        return standby;
    }

    /** Waits until the replica has replayed everything the primary has committed so far. */
    public void awaitReplicaCaughtUp() {
        Node p = primary;
        Node r = replica;
        // the insert position, not pg_current_wal_lsn(): with synchronous_commit=off a commit record may
        // still sit in WAL buffers, beyond the write position, until the WAL writer gets to it
        String lsn = p.psql("postgres", "select pg_current_wal_insert_lsn()");
        await(() -> "t".equals(r.psql("postgres", "select pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn")),
                r + " to replay " + p + "'s WAL up to " + lsn);
    }

    /** Waits until the primary's pg_stat_replication shows the replica streaming and the replica agrees. */
    public void awaitStreaming() {
        Node p = primary;
        Node r = replica;
        await(() -> "1".equals(p.psql("postgres", "select count(*) from pg_stat_replication"
                                + " where application_name = '" + r.name() + "' and state = 'streaming'"))
                        && "t|streaming".equals(r.psql("postgres",
                                "select pg_is_in_recovery(), (select status from pg_stat_wal_receiver)")),
                r + " to stream from " + p);
    }

    /** Stops both servers and deletes their directories. */
    @Override
    public void close() {
        primary.server().close();
        replica.server().close();
    }

    @Override
    public String toString() {
        return "PgShard[primary=" + primary + ", replica=" + replica + "]";
    }

    // ------------------------------------------------------------------------------------------ internals

    private void swapRoles() {
        Node p = primary;
        primary = replica;
        replica = p;
    }

    /**
     * Fills {@code target}'s (absent) data directory with a base backup of {@code source}, taken over TCP
     * with the superuser's password; -R leaves standby.signal and a primary_conninfo with that same
     * connection string, so the copy starts as a streaming standby.
     */
    private static void basebackup(PgServer target, Node source, String appName) {
        target.runAsServerUser(BASEBACKUP_TIMEOUT, List.of(target.bin("pg_basebackup"),
                "-D", target.dataDir().toString(), "-d", conninfo(source, appName),
                "-R", "-X", "stream", "-c", "fast", "--no-sync")).orThrow();
    }

    /** Makes a stopped node a standby of {@code source}: standby.signal plus a primary_conninfo to it. */
    private static void follow(Node standby, Node source) {
        Path data = standby.server().dataDir();
        Path auto = data.resolve("postgresql.auto.conf");
        Path signal = data.resolve("standby.signal");
        try {
            // postgresql.auto.conf is read last, so its primary_conninfo (from -R, naming the old primary) wins
            List<String> lines = new ArrayList<>();
            for (String line : Files.readAllLines(auto, StandardCharsets.UTF_8)) {
                if (!line.startsWith("primary_conninfo")) {
                    lines.add(line);
                }
            }
            lines.add("primary_conninfo = '" + conninfo(source, standby.name()) + "'");
            Files.write(auto, lines, StandardCharsets.UTF_8);
            Files.writeString(signal, "");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make " + standby + " a standby of " + source, e);
        }
        standby.server().ownByServerUser(signal);
    }

    private static String conninfo(Node source, String appName) {
        Role su = Role.SUPERUSER;
        return "host=" + source.host() + " port=" + source.port() + " user=" + su.user()
                + " password=" + su.password() + " application_name=" + appName;
    }

    /** One field of pg_controldata's report on a stopped node, e.g. "Database cluster state". */
    private static String controlData(Node node, String field) {
        PgServer s = node.server();
        // LC_ALL=C: the field names are translated otherwise
        String out = s.runAsServerUser(Duration.ofSeconds(60),
                List.of("env", "LC_ALL=C", s.bin("pg_controldata"), "-D", s.dataDir().toString())).orThrow().stdout();
        for (String line : out.split("\n")) {
            if (line.startsWith(field + ":")) {
                return line.substring(field.length() + 1).strip();
            }
        }
        throw new AssertionError("pg_controldata for " + node + " has no '" + field + "':\n" + out);
    }

    private void await(BooleanSupplier condition, String what) {
        // psql fails against a server that is still starting or shutting down: Await counts that as "not yet"
        Await.until(what, AWAIT, condition, () -> "--- " + primary + " log (tail) ---\n" + primary.server().logTail(30)
                + "\n--- " + replica + " log (tail) ---\n" + replica.server().logTail(30));
    }
}
