package io.turnout.proxy.testing;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server for integration tests, in its own temporary directory on its own TCP port.
 *
 * <p>{@link #shared()} is one server per JVM, started on first use and stopped by a shutdown hook; tests that
 * stop, kill or reconfigure the server take a private one from {@link #start()} and {@link #close()} it.
 * Each server lives in a fresh {@code /tmp/turnout-pg-*} directory (data in {@code data/}, the unix socket
 * in the directory itself, the server log in {@code server.log}) and listens on 127.0.0.1 on a port found
 * free by binding port 0; a start that loses the race for that port is retried on another.
 *
 * <p>Jobs: this class is the server's face to tests and holds its state; {@link PgCtl} runs initdb and pg_ctl,
 * {@link PgConfFiles} writes the configuration files, {@link PgSql} runs SQL and creates roles and databases.
 *
 * <p>When the JVM runs as root, initdb, pg_ctl and the server run as the {@code postgres} OS user through
 * {@code runuser -u postgres --} (PostgreSQL refuses to run as root); otherwise as the current user. The
 * binaries come from {@code /usr/lib/postgresql/15/bin} or {@code $PG_BIN}; if they are missing the fixture
 * fails with an exception saying so: integration tests are never skipped.
 *
 * <p>Roles, one per server-side auth method over TCP (see {@link Role}): {@code postgres}/{@code postgres}
 * (superuser, scram-sha-256), {@code app_scram}/{@code scram_pw} (scram-sha-256), {@code app_md5}/{@code
 * md5_pw} (stored as MD5, method md5), {@code app_plain}/{@code plain_pw} (method password, i.e. cleartext)
 * and {@code app_trust} (method trust). Database {@code app} exists and every role may use it, create
 * objects in its public schema and use the tables the superuser creates there. Unix-socket connections are trusted; replication connections are allowed
 * for the superuser (wal_level=replica, max_wal_senders=10); {@link PgShard} builds streaming replicas on that.
 */
public final class PgServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PgServer.class);

    public static final String HOST = "127.0.0.1";
    public static final String DEFAULT_PG_BIN = "/usr/lib/postgresql/15/bin";
    /** The database every role can use. */
    public static final String APP_DB = "app";

    /** psql's default limit; the waits below are for a busy 2-core CI box, many times a quiet machine's. */
    private static final Duration PSQL_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration AWAIT = Duration.ofSeconds(120);

    /** The test roles and how each authenticates over TCP from 127.0.0.1. */
    public enum Role {
        SUPERUSER("postgres", "postgres", "scram-sha-256"),
        SCRAM("app_scram", "scram_pw", "scram-sha-256"),
        MD5("app_md5", "md5_pw", "md5"),
        PLAIN("app_plain", "plain_pw", "password"),
        TRUST("app_trust", null, "trust");

        private final String user;
        private final String password;
        private final String hbaMethod;

        Role(String user, String password, String hbaMethod) {
            this.user = user;
            this.password = password;
            this.hbaMethod = hbaMethod;
        }

        public String user() {
            return user;
        }

        /** The password, or {@code null} for the trust role (any password, or none, is accepted). */
        public String password() {
            return password;
        }

        /** The pg_hba.conf method that applies to this role over TCP. */
        public String hbaMethod() {
            return hbaMethod;
        }
    }

    private static final Set<PgServer> LIVE = ConcurrentHashMap.newKeySet();
    private static volatile PgServer shared;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (PgServer s : LIVE) {
                s.destroy(true);
            }
        }, "pg-server-shutdown"));
    }

    private final Path baseDir;
    private final PgCtl ctl;
    private final PgSql sql = new PgSql(this);
    private final boolean isShared;
    private volatile int port;
    private volatile String host = HOST;
    private volatile boolean destroyed;

    private PgServer(Path baseDir, Path pgBin, boolean isShared) {
        this.baseDir = baseDir;
        this.ctl = new PgCtl(pgBin, baseDir);
        this.isShared = isShared;
    }

    /** The JVM-wide server, started on first call. Its {@link #close()} does nothing; a shutdown hook stops it. */
    public static PgServer shared() {
        PgServer s = shared;
        if (s == null) {
            synchronized (PgServer.class) {
                s = shared;
                if (s == null) {
                    s = create(true, null);
                    shared = s;
                }
            }
        }
        return s;
    }

    /** A private server for a test that stops, kills or reconfigures it; {@link #close()} it when done. */
    public static PgServer start() {
        return create(false, null);
    }

    /**
     * A private server whose data directory {@code copy} fills instead of initdb (say, with pg_basebackup from
     * a primary, see {@link PgShard}), started on a free port but not bootstrapped: roles and databases come
     * with the copy. {@code copy} runs with {@link #dataDir()} absent and its parent owned by the server's OS user.
     */
    static PgServer startCopy(Consumer<PgServer> copy) {
        return create(false, copy);
    }

    /** {@code copy == null}: a new cluster from initdb; otherwise {@link #startCopy}. */
    private static PgServer create(boolean isShared, Consumer<PgServer> copy) {
        Path bin = PgCtl.checkedBinDir(DEFAULT_PG_BIN);
        PgCtl.reapStale(bin);
        // 0755: other OS users (e.g. a pgbouncer run as postgres) may need the socket; data/ stays 0700
        Path dir = OwnedDirs.create(PgCtl.DIR_PREFIX, true);
        PgServer s = new PgServer(dir, bin, isShared);
        LIVE.add(s);
        long t0 = System.nanoTime();
        try {
            if (copy == null) {
                s.ctl.initdb();
                PgConfFiles.writeInitial(s.dataDir(), dir);
                s.startOnFreePort();
                s.sql.bootstrap(PSQL_TIMEOUT);
            } else {
                copy.accept(s);
                PgConfFiles.adoptCopied(s.dataDir(), dir);
                s.startOnFreePort();
            }
        } catch (RuntimeException | Error e) {
            String tail = s.logTail(60);
            s.destroy(false);
            throw new IllegalStateException("PostgreSQL test server failed to start in " + dir
                    + "\n--- server log (tail) ---\n" + tail, e);
        }
        log.info("PostgreSQL {} on {}:{} in {} ({} ms)", isShared ? "shared" : "private", HOST, s.port, dir,
                (System.nanoTime() - t0) / 1_000_000);
        return s;
    }

    // ---------------------------------------------------------------------------------------------- API

    /** 127.0.0.1, or the namespace's address after {@link #moveInto}. */
    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    public Path dataDir() {
        return ctl.dataDir();
    }

    /** The directory holding the unix socket ({@code .s.PGSQL.<port>}); pass it as psql's {@code -h}. */
    public Path socketDir() {
        return baseDir;
    }

    /** The server's own temporary directory (data dir, socket, log). Deleted by {@link #close()}. */
    public Path baseDir() {
        return baseDir;
    }

    public Path logFile() {
        return ctl.logFile();
    }

    /** The directory holding initdb, pg_ctl, psql, pgbench, pg_basebackup, ... */
    public Path binDir() {
        return ctl.binDir();
    }

    /** A PostgreSQL program from {@link #binDir()}, e.g. {@code bin("pgbench")}. */
    public String bin(String program) {
        return ctl.bin(program);
    }

    public String jdbcUrl(String db) {
        return "jdbc:postgresql://" + host + ":" + port + "/" + db;
    }

    /** Connects over TCP with pgjdbc; {@code password} may be null (trust). */
    public Connection connect(String user, String password, String db) throws SQLException {
        return sql.connect(user, password, db);
    }

    public Connection connect(Role role, String db) throws SQLException {
        return connect(role.user(), role.password(), db);
    }

    /**
     * ssl = on with {@code cert}/{@code key} (copied into the data directory, key 0600) and a pg_hba.conf
     * whose TCP lines are all {@code hostssl}: a plaintext TCP login is refused. Applied with a reload; returns
     * once the server says ssl is on. For a private server ({@link #start()}).
     */
    public void requireTls(Path cert, Path key) {
        PgConfFiles.requireTls(dataDir(), cert, key);
        psql("postgres", "SELECT pg_reload_conf()");
        Await.until("ssl to turn on after a reload", AWAIT, () -> psql("postgres", "SHOW ssl").equals("on"),
                () -> logTail(30));
    }

    /**
     * Runs SQL as the superuser through psql over the unix socket ({@code -X -q -A -t -v ON_ERROR_STOP=1}, the
     * script on standard input, so several statements run one by one and {@code \c} works). Returns stdout
     * without its trailing newline: {@code psql("app", "select 1")} is {@code "1"}; rows are one per line,
     * columns separated by {@code |}. Throws an {@link AssertionError} with stderr on a non-zero exit.
     */
    public String psql(String db, String sql) {
        return psql(db, sql, PSQL_TIMEOUT);
    }

    public String psql(String db, String sql, Duration timeout) {
        return this.sql.psql(db, sql, timeout);
    }

    /**
     * Creates a database owned by postgres that every test role may use (as {@code app} is): each may connect
     * and create objects in its public schema, and tables and sequences the superuser creates there (say, with
     * {@link #psql}) are granted to all of them.
     */
    public void createDatabase(String name) {
        sql.createDatabase(name, PSQL_TIMEOUT);
    }

    /** Fast shutdown (pg_ctl stop -m fast): clients are disconnected, the server checkpoints and exits. */
    public synchronized void stop() {
        checkNotDestroyed();
        ctl.stop("fast");
    }

    /**
     * Immediate shutdown (pg_ctl stop -m immediate), as after a crash: the next start runs recovery. A
     * transaction committed with synchronous_commit=off (the default here) in the last few hundred ms may be
     * lost; commit with {@code SET synchronous_commit = on} what must survive.
     */
    public synchronized void kill() {
        checkNotDestroyed();
        ctl.stop("immediate");
    }

    /**
     * Stops the server if it is running, then starts it again on the same port with the same data. Another
     * process may hold the port for a moment (a client's ephemeral port): then it waits for the port.
     */
    public synchronized void restart() {
        checkNotDestroyed();
        if (isRunning()) {
            stop();
        }
        Await.until("PostgreSQL to restart on port " + port, AWAIT, () -> {
            try {
                ctl.start();
                return true;
            } catch (FreePorts.PortTaken e) {
                return false;
            } catch (AssertionError e) {
                throw new Await.Abort(e.getMessage());
            }
        }, () -> "--- server log (tail) ---\n" + logTail(40));
    }

    /**
     * Restarts the server inside {@code ns}, listening on the namespace's address only, same port and data; logins
     * from the host's end are let in as from 127.0.0.1. psql still works, over the unix socket (a socket file is
     * not bound to a network namespace). For a private server ({@link #start()}); close it before {@code ns}.
     */
    public synchronized void moveInto(NetNamespace ns) {
        checkNotDestroyed();
        if (isRunning()) {
            stop();
        }
        PgConfFiles.listenOn(dataDir(), ns.nsAddress(), ns.hostAddress());
        ctl.startUnder(ns.execPrefix());
        host = ns.nsAddress();
        restart();
    }

    /**
     * Restarts the server listening on {@code address} alone (another loopback address, e.g. 127.0.0.2) and
     * {@code port}, which may be another server's port on 127.0.0.1: two servers then make PgBouncer's comma list
     * of hosts with one port. Logins from {@code address} are let in as from 127.0.0.1. For a private server.
     */
    public synchronized void listenOn(String address, int port) {
        checkNotDestroyed();
        if (isRunning()) {
            stop();
        }
        PgConfFiles.listenOn(dataDir(), address, address);
        PgConfFiles.writePort(dataDir(), port);
        this.host = address;
        this.port = port;
        restart();
    }

    /**
     * Moves pg_wal into {@code dir}, an empty directory the server's OS user owns (say, on a file system the test
     * fills), leaving a symlink as initdb --waldir does: stops the server, moves the files, starts it again.
     */
    public synchronized void moveWalTo(Path dir) {
        checkNotDestroyed();
        if (isRunning()) {
            stop();
        }
        Path wal = dataDir().resolve("pg_wal");
        runAsServerUser(PSQL_TIMEOUT, List.of("sh", "-c", "mv \"$1\"/* \"$2\"/ && rmdir \"$1\" && ln -s \"$2\" \"$1\"",
                "sh", wal.toString(), dir.toString())).orThrow();
        restart();
    }

    /** Whether the postmaster is running (pg_ctl status). */
    public boolean isRunning() {
        return !destroyed && ctl.isRunning();
    }

    /** Promotes a standby (pg_ctl promote) and waits until it has left recovery and accepts writes. */
    public synchronized void promote() {
        checkNotDestroyed();
        ctl.promote();
    }

    /**
     * Stops this server if it is running, replaces its data directory with a fresh {@code copy} (as for
     * {@link #startCopy}) and starts it again on the same port, so clients configured with it need no change.
     */
    synchronized void recopy(Consumer<PgServer> copy) {
        checkNotDestroyed();
        if (isRunning()) {
            kill();
        }
        OwnedDirs.deleteTree(dataDir());
        copy.accept(this);
        PgConfFiles.adoptCopied(dataDir(), baseDir);
        PgConfFiles.writePort(dataDir(), port);
        restart();
    }

    /** Runs a server-side program (pg_basebackup, pg_controldata, ...) as the OS user the server runs as. */
    Processes.Result runAsServerUser(Duration timeout, List<String> cmd) {
        return ctl.run(timeout, cmd);
    }

    /** Gives a file the fixture wrote into the data directory to the server's OS user, who must read it. */
    void ownByServerUser(Path file) {
        OwnedDirs.chownToPostgres(file);
    }

    /** The last {@code lines} lines of the server log, for failure messages. */
    public String logTail(int lines) {
        return ctl.logTail(lines);
    }

    /** Stops a private server immediately and deletes its directory. Does nothing for {@link #shared()}. */
    @Override
    public void close() {
        if (!isShared) {
            destroy(true);
        }
    }

    @Override
    public String toString() {
        return "PgServer[" + host + ":" + port + ", " + baseDir + (isShared ? ", shared" : "") + "]";
    }

    /** The environment for PostgreSQL client programs: every inherited PG* variable removed. */
    public static Map<String, String> clientEnv() {
        Map<String, String> env = new HashMap<>();
        System.getenv().keySet().stream().filter(k -> k.startsWith("PG")).forEach(k -> env.put(k, null));
        env.put("PGCONNECT_TIMEOUT", "10");
        return env;
    }

    // ------------------------------------------------------------------------------------------ internals

    private void startOnFreePort() {
        FreePorts.retry("PostgreSQL", () -> {
            port = FreePorts.pick();
            PgConfFiles.writePort(dataDir(), port);
            ctl.start();
            return port;
        });
    }

    private synchronized void destroy(boolean deleteDir) {
        if (destroyed) {
            return;
        }
        destroyed = true;
        try {
            if (ctl.mayBeRunning()) {
                ctl.stop("immediate");
            }
        } catch (RuntimeException | Error e) {
            log.warn("could not stop PostgreSQL in {}: {}", baseDir, e.toString());
        }
        if (deleteDir) {
            OwnedDirs.deleteTree(baseDir);
        }
        LIVE.remove(this);
    }

    private void checkNotDestroyed() {
        if (destroyed) {
            throw new IllegalStateException(this + " is closed");
        }
    }
}
