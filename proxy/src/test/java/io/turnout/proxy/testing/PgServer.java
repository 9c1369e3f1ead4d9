package io.turnout.proxy.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.stream.Stream;
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

    private static final Duration INITDB_TIMEOUT = Duration.ofSeconds(120);
    private static final int PG_CTL_WAIT_SECONDS = 60;
    private static final Duration PG_CTL_TIMEOUT = Duration.ofSeconds(PG_CTL_WAIT_SECONDS + 30);
    private static final Duration PSQL_TIMEOUT = Duration.ofSeconds(60);
    private static final int PORT_ATTEMPTS = 8;
    private static final String DIR_PREFIX = "turnout-pg-";
    private static final String OWNER_FILE = "owner";

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
    private static volatile boolean reaped;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (PgServer s : LIVE) {
                s.destroy(true);
            }
        }, "pg-server-shutdown"));
    }

    private final Path baseDir;
    private final Path dataDir;
    private final Path logFile;
    private final Path pgBin;
    private final boolean asPostgresUser;
    private final boolean isShared;
    private volatile int port;
    private volatile boolean destroyed;

    private PgServer(Path baseDir, Path pgBin, boolean asPostgresUser, boolean isShared) {
        this.baseDir = baseDir;
        this.dataDir = baseDir.resolve("data");
        this.logFile = baseDir.resolve("server.log");
        this.pgBin = pgBin;
        this.asPostgresUser = asPostgresUser;
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
        Path bin = pgBin();
        boolean asPostgres = runningAsRoot();
        reapStaleDirs(bin, asPostgres);
        Path dir;
        try {
            dir = Files.createTempDirectory(Path.of("/tmp"), DIR_PREFIX);
            Files.writeString(dir.resolve(OWNER_FILE), ownerTag());
            // 0755: other OS users (e.g. a pgbouncer run as postgres) may need the socket; data/ stays 0700
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            if (asPostgres) {
                UserPrincipalLookupService lookup = dir.getFileSystem().getUserPrincipalLookupService();
                UserPrincipal pgUser = lookup.lookupPrincipalByName("postgres");
                GroupPrincipal pgGroup = lookup.lookupPrincipalByGroupName("postgres");
                Files.setOwner(dir, pgUser);
                Files.getFileAttributeView(dir, java.nio.file.attribute.PosixFileAttributeView.class).setGroup(pgGroup);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the PostgreSQL test directory under /tmp", e);
        }
        PgServer s = new PgServer(dir, bin, asPostgres, isShared);
        LIVE.add(s);
        long t0 = System.nanoTime();
        try {
            if (copy == null) {
                s.initdb();
                s.startOnFreePort();
                s.bootstrap();
            } else {
                copy.accept(s);
                s.adoptCopiedConfig();
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

    public String host() {
        return HOST;
    }

    public int port() {
        return port;
    }

    public Path dataDir() {
        return dataDir;
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
        return logFile;
    }

    /** The directory holding initdb, pg_ctl, psql, pgbench, pg_basebackup, ... */
    public Path binDir() {
        return pgBin;
    }

    /** A PostgreSQL program from {@link #binDir()}, e.g. {@code bin("pgbench")}. */
    public String bin(String program) {
        return pgBin.resolve(program).toString();
    }

    public String jdbcUrl(String db) {
        return "jdbc:postgresql://" + HOST + ":" + port + "/" + db;
    }

    /** Connects over TCP with pgjdbc; {@code password} may be null (trust). */
    public Connection connect(String user, String password, String db) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        if (password != null) {
            props.setProperty("password", password);
        }
        props.setProperty("connectTimeout", "10");
        props.setProperty("socketTimeout", "120");
        props.setProperty("ApplicationName", "turnout-test");
        return DriverManager.getConnection(jdbcUrl(db), props);
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
        try {
            Path c = dataDir.resolve("server.crt");
            Path k = dataDir.resolve("server.key");
            Files.copy(cert, c, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(key, k, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.setPosixFilePermissions(k, PosixFilePermissions.fromString("rw-------"));
            if (asPostgresUser) {
                Files.setOwner(c, Files.getOwner(dataDir));
                Files.setOwner(k, Files.getOwner(dataDir));
            }
            Files.writeString(dataDir.resolve("postgresql.conf"),
                    "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
                    StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
            Path hba = dataDir.resolve("pg_hba.conf");
            List<String> lines = new ArrayList<>();
            for (String line : Files.readAllLines(hba, StandardCharsets.UTF_8)) {
                lines.add(line.startsWith("host ") ? "hostssl" + line.substring(4) : line);
            }
            Files.write(hba, lines, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        psql("postgres", "SELECT pg_reload_conf()");
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!psql("postgres", "SHOW ssl").equals("on")) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("ssl did not turn on after reload:\n" + logTail(30));
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
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
        List<String> cmd = List.of(bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", baseDir.toString(), "-p", Integer.toString(port), "-U", "postgres", "-d", db, "-f", "-");
        Processes.Result r = Processes.run(timeout, cmd, clientEnv(), null, sql);
        if (!r.ok()) {
            throw new AssertionError("psql -d " + db + " failed (exit " + r.exitCode() + "): " + r.stderr().strip()
                    + "\n--- sql ---\n" + sql + "\n--- stdout ---\n" + r.stdout());
        }
        String out = r.stdout();
        while (out.endsWith("\n")) {
            out = out.substring(0, out.length() - 1);
        }
        return out;
    }

    /**
     * Creates a database owned by postgres that every test role may use (as {@code app} is): each may connect
     * and create objects in its public schema, and tables and sequences the superuser creates there (say, with
     * {@link #psql}) are granted to all of them.
     */
    public void createDatabase(String name) {
        String id = quoteIdent(name);
        psql("postgres", "CREATE DATABASE " + id + " OWNER postgres;\n"
                + "GRANT ALL ON DATABASE " + id + " TO " + appRoles() + ";\n"
                + "\\c " + id + "\n"
                + "GRANT ALL ON SCHEMA public TO " + appRoles() + ";\n"
                + "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES TO " + appRoles() + ";\n"
                + "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES TO " + appRoles() + ";\n");
    }

    /** Fast shutdown (pg_ctl stop -m fast): clients are disconnected, the server checkpoints and exits. */
    public synchronized void stop() {
        checkNotDestroyed();
        pgCtl("stop", "-m", "fast").orThrow();
    }

    /**
     * Immediate shutdown (pg_ctl stop -m immediate), as after a crash: the next start runs recovery. A
     * transaction committed with synchronous_commit=off (the default here) in the last few hundred ms may be
     * lost; commit with {@code SET synchronous_commit = on} what must survive.
     */
    public synchronized void kill() {
        checkNotDestroyed();
        pgCtl("stop", "-m", "immediate").orThrow();
    }

    /** Stops the server if it is running, then starts it again on the same port with the same data. */
    public synchronized void restart() {
        checkNotDestroyed();
        if (isRunning()) {
            stop();
        }
        Processes.Result last = null;
        for (int attempt = 1; attempt <= 5; attempt++) {
            long logSize = logSize();
            last = pgCtlStart();
            if (last.ok()) {
                return;
            }
            if (!portCollision(logSize)) {
                break;
            }
            sleep(Duration.ofSeconds(1)); // someone else holds our port: give it a moment
        }
        throw new AssertionError(last.describe("failed to restart PostgreSQL on port " + port)
                + "\n--- server log (tail) ---\n" + logTail(40));
    }

    /** Whether the postmaster is running (pg_ctl status). */
    public boolean isRunning() {
        if (destroyed) {
            return false;
        }
        return pgCtl("status").exitCode() == 0;
    }

    /** Promotes a standby (pg_ctl promote) and waits until it has left recovery and accepts writes. */
    public synchronized void promote() {
        checkNotDestroyed();
        pgCtl("promote").orThrow();
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
        OwnedDirs.deleteTree(dataDir);
        copy.accept(this);
        adoptCopiedConfig();
        writePortConf();
        restart();
    }

    /** Runs a server-side program (pg_basebackup, pg_controldata, ...) as the OS user the server runs as. */
    Processes.Result runAsServerUser(Duration timeout, List<String> cmd) {
        return run(timeout, cmd);
    }

    /** Gives a file the fixture wrote into the data directory to the server's OS user, who must read it. */
    void ownByServerUser(Path file) {
        if (asPostgresUser) {
            try {
                Files.setOwner(file, Files.getOwner(dataDir));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** The last {@code lines} lines of the server log, for failure messages. */
    public String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (NoSuchFileException e) {
            return "(no server log at " + logFile + ")";
        } catch (IOException e) {
            return "(cannot read " + logFile + ": " + e + ")";
        }
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
        return "PgServer[" + HOST + ":" + port + ", " + baseDir + (isShared ? ", shared" : "") + "]";
    }

    /** The environment for PostgreSQL client programs: every inherited PG* variable removed. */
    public static Map<String, String> clientEnv() {
        Map<String, String> env = new HashMap<>();
        System.getenv().keySet().stream().filter(k -> k.startsWith("PG")).forEach(k -> env.put(k, null));
        env.put("PGCONNECT_TIMEOUT", "10");
        return env;
    }

    // ------------------------------------------------------------------------------------------ internals

    private void initdb() {
        run(INITDB_TIMEOUT, List.of(bin("initdb"), "-D", dataDir.toString(), "-U", "postgres", "--auth=trust",
                "--locale=C", "--encoding=UTF8", "--no-sync", "--no-instructions")).orThrow();
        String conf = String.join("\n",
                "",
                "# ---- Turnout integration tests ----",
                "listen_addresses = '" + HOST + "'",
                "unix_socket_directories = '" + baseDir + "'",
                "include 'turnout_port.conf'",
                "max_connections = 300",
                "shared_buffers = 128MB",
                "huge_pages = off",
                "fsync = off",
                "synchronous_commit = off",
                "full_page_writes = off",
                "jit = off",
                "password_encryption = 'scram-sha-256'",
                "wal_level = replica",
                "max_wal_senders = 10",
                "max_replication_slots = 10",
                "hot_standby = on",
                "logging_collector = off",
                "log_destination = 'stderr'",
                "log_min_messages = warning",
                "log_line_prefix = '%m [%p] %q%u@%d '",
                "lc_messages = 'C'",
                "");
        String hba = String.join("\n",
                "# Turnout integration tests: one role per auth method over TCP",
                "# TYPE  DATABASE     USER       ADDRESS        METHOD",
                "local   all          all                       trust",
                "local   replication  all                       trust",
                "host    all          app_trust  127.0.0.1/32   trust",
                "host    all          app_plain  127.0.0.1/32   password",
                "host    all          app_md5    127.0.0.1/32   md5",
                "host    all          app_scram  127.0.0.1/32   scram-sha-256",
                "host    all          all        127.0.0.1/32   scram-sha-256",
                "host    replication  postgres   127.0.0.1/32   scram-sha-256",
                "");
        try {
            Files.writeString(dataDir.resolve("postgresql.conf"), conf, StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.APPEND);
            Files.writeString(dataDir.resolve("pg_hba.conf"), hba, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void startOnFreePort() {
        Processes.Result last = null;
        for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
            port = freePort();
            writePortConf();
            long logSize = logSize();
            last = pgCtlStart();
            if (last.ok()) {
                return;
            }
            if (!portCollision(logSize)) {
                break;
            }
            log.info("port {} was taken before PostgreSQL could bind it; retrying on another", port);
        }
        throw new AssertionError(last.describe("could not start PostgreSQL"));
    }

    private void bootstrap() {
        String roles = String.join("\n",
                "SET password_encryption = 'scram-sha-256';",
                "ALTER ROLE postgres PASSWORD 'postgres';",
                "CREATE ROLE app_scram LOGIN PASSWORD 'scram_pw';",
                "CREATE ROLE app_plain LOGIN PASSWORD 'plain_pw';",
                "CREATE ROLE app_trust LOGIN;",
                "SET password_encryption = 'md5';",
                "CREATE ROLE app_md5 LOGIN PASSWORD 'md5_pw';",
                "RESET password_encryption;",
                "");
        psql("postgres", roles);
        createDatabase(APP_DB);
    }

    /**
     * A copied data directory still names its source's socket directory, which the source owns and may
     * delete: point it at ours. The port needs no such care, as turnout_port.conf is rewritten at start.
     */
    private void adoptCopiedConfig() {
        Path conf = dataDir.resolve("postgresql.conf");
        try {
            List<String> lines = new ArrayList<>();
            boolean found = false;
            for (String line : Files.readAllLines(conf, StandardCharsets.UTF_8)) {
                if (line.startsWith("unix_socket_directories")) {
                    line = "unix_socket_directories = '" + baseDir + "'";
                    found = true;
                }
                lines.add(line);
            }
            if (!found) {
                throw new IllegalStateException(conf + " has no unix_socket_directories: not a copy of a PgServer");
            }
            Files.write(conf, lines, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void writePortConf() {
        try {
            Path f = dataDir.resolve("turnout_port.conf");
            Files.writeString(f, "port = " + port + "\n");
            if (asPostgresUser) {
                Files.setOwner(f, Files.getOwner(dataDir));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Processes.Result pgCtlStart() {
        return pgCtl("start", "-l", logFile.toString());
    }

    private Processes.Result pgCtl(String... args) {
        List<String> cmd = new ArrayList<>(List.of(bin("pg_ctl"), "-D", dataDir.toString()));
        cmd.addAll(List.of(args));
        if (!args[0].equals("status")) { // for promote, -w waits until the server has left recovery
            cmd.addAll(List.of("-w", "-t", Integer.toString(PG_CTL_WAIT_SECONDS)));
        }
        return run(PG_CTL_TIMEOUT, cmd);
    }

    /** Runs a server-side program, as the postgres OS user when the JVM is root, in the server's directory. */
    private Processes.Result run(Duration timeout, List<String> cmd) {
        return Processes.run(timeout, asUser(asPostgresUser, cmd), clientEnv(), baseDir, null);
    }

    private static List<String> asUser(boolean asPostgres, List<String> cmd) {
        if (!asPostgres) {
            return cmd;
        }
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
        wrapped.addAll(cmd);
        return wrapped;
    }

    private boolean portCollision(long logSizeBefore) {
        try {
            if (!Files.exists(logFile)) {
                return false;
            }
            String log = Files.readString(logFile, StandardCharsets.UTF_8);
            String fresh = log.substring((int) Math.min(logSizeBefore, log.length()));
            return fresh.contains("Address already in use") || fresh.contains("could not create any TCP/IP sockets");
        } catch (IOException e) {
            return false;
        }
    }

    private long logSize() {
        try {
            return Files.exists(logFile) ? Files.readString(logFile, StandardCharsets.UTF_8).length() : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private synchronized void destroy(boolean deleteDir) {
        if (destroyed) {
            return;
        }
        destroyed = true;
        try {
            if (Files.exists(dataDir.resolve("postmaster.pid"))) {
                pgCtl("stop", "-m", "immediate");
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

    private static String appRoles() {
        return String.join(", ", Role.SCRAM.user, Role.MD5.user, Role.PLAIN.user, Role.TRUST.user);
    }

    private static String quoteIdent(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free TCP port on " + HOST, e);
        }
    }

    private static Path pgBin() {
        String env = System.getenv("PG_BIN");
        Path bin = Path.of(env != null && !env.isBlank() ? env : DEFAULT_PG_BIN);
        List<String> missing = new ArrayList<>();
        for (String p : List.of("initdb", "pg_ctl", "postgres", "psql")) {
            if (!Files.isExecutable(bin.resolve(p))) {
                missing.add(p);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException("PostgreSQL binaries " + missing + " not found in " + bin
                    + (env != null ? " ($PG_BIN)" : "")
                    + ": install them (apt-get install postgresql-15 postgresql-client-15) or point $PG_BIN at"
                    + " the directory holding initdb, pg_ctl, postgres and psql");
        }
        if (runningAsRoot()) {
            try {
                Path.of("/").getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
            } catch (IOException e) {
                throw new IllegalStateException("running as root, so PostgreSQL must run as the 'postgres' OS user,"
                        + " which does not exist (useradd --system --user-group --home-dir /var/lib/postgresql"
                        + " postgres)", e);
            }
            if (!Files.isExecutable(Path.of("/usr/sbin/runuser")) && !Files.isExecutable(Path.of("/sbin/runuser"))) {
                throw new IllegalStateException("running as root, but runuser (util-linux) is missing");
            }
        }
        return bin;
    }

    private static boolean runningAsRoot() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue() == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    private static String ownerTag() {
        ProcessHandle me = ProcessHandle.current();
        return me.pid() + " " + me.info().startInstant().map(Instant::toString).orElse("?") + "\n";
    }

    /**
     * Removes the servers of test JVMs that died without running their shutdown hooks (SIGKILL, a CI
     * timeout): any {@code /tmp/turnout-pg-*} whose owner process is gone has its postmaster stopped and
     * its directory deleted. Done once per JVM.
     */
    private static void reapStaleDirs(Path bin, boolean asPostgres) {
        if (reaped) {
            return;
        }
        reaped = true;
        try (Stream<Path> dirs = Files.list(Path.of("/tmp"))) {
            for (Path dir : dirs.filter(d -> d.getFileName().toString().startsWith(DIR_PREFIX)).toList()) {
                if (ownerAlive(dir.resolve(OWNER_FILE))) {
                    continue;
                }
                Path data = dir.resolve("data");
                if (Files.exists(data.resolve("postmaster.pid"))) {
                    try {
                        Processes.run(PG_CTL_TIMEOUT, asUser(asPostgres, List.of(bin.resolve("pg_ctl").toString(),
                                "-D", data.toString(), "stop", "-m", "immediate", "-w", "-t", "30")),
                                clientEnv(), dir, null);
                    } catch (AssertionError e) {
                        log.warn("could not stop the stale PostgreSQL in {}: {}", dir, e.getMessage());
                    }
                }
                log.info("removing stale PostgreSQL test directory {}", dir);
                OwnedDirs.deleteTree(dir);
            }
        } catch (IOException | RuntimeException e) {
            log.warn("could not clean up stale PostgreSQL test directories: {}", e.toString());
        }
    }

    private static boolean ownerAlive(Path ownerFile) {
        try {
            String[] tag = Files.readString(ownerFile).strip().split(" ");
            long pid = Long.parseLong(tag[0]);
            return ProcessHandle.of(pid)
                    .filter(ProcessHandle::isAlive)
                    .map(h -> tag.length < 2 || h.info().startInstant().map(Instant::toString).orElse("?").equals(tag[1]))
                    .orElse(false);
        } catch (NoSuchFileException e) {
            return true; // not (yet) tagged: leave it alone
        } catch (IOException | RuntimeException e) {
            return true;
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
