package io.turnout.proxy.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The process lifecycle of one {@link PgServer}: initdb, {@code pg_ctl start/stop/status/promote}, server-side
 * programs run as the postgres OS user when the JVM is root (PostgreSQL refuses root), and the reaping of
 * servers a dead JVM left. pg_ctl starts the postmaster detached, not as the JVM's child, and waits for it
 * itself ({@code -w}), so PostgreSQL does not go through {@link ServerProcess}; the waits are pg_ctl's, with
 * deadlines generous enough for a busy 2-core CI box.
 */
final class PgCtl {
    static final String DIR_PREFIX = "turnout-pg-";
    private static final Duration INITDB_TIMEOUT = Duration.ofSeconds(180);
    private static final int WAIT_SECONDS = 120;
    private static final Duration TIMEOUT = Duration.ofSeconds(WAIT_SECONDS + 30);

    private final Path bin;
    private final Path baseDir;
    private final Path dataDir;
    private final Path logFile;
    /** Put before {@code pg_ctl start}: a network namespace's {@code ip netns exec}, so the postmaster runs there. */
    private volatile List<String> startPrefix = List.of();

    PgCtl(Path bin, Path baseDir) {
        this.bin = bin;
        this.baseDir = baseDir;
        this.dataDir = baseDir.resolve("data");
        this.logFile = baseDir.resolve("server.log");
    }

    Path dataDir() {
        return dataDir;
    }

    Path logFile() {
        return logFile;
    }

    Path binDir() {
        return bin;
    }

    String bin(String program) {
        return bin.resolve(program).toString();
    }

    /** initdb of an empty cluster: superuser postgres, trust until the fixture sets passwords, C locale. */
    void initdb() {
        run(INITDB_TIMEOUT, List.of(bin("initdb"), "-D", dataDir.toString(), "-U", "postgres", "--auth=trust",
                "--locale=C", "--encoding=UTF8", "--no-sync", "--no-instructions")).orThrow();
    }

    /** Every later {@link #start()} runs the postmaster under {@code prefix} (see {@link NetNamespace#execPrefix()}). */
    void startUnder(List<String> prefix) {
        startPrefix = List.copyOf(prefix);
    }

    /**
     * {@code pg_ctl start -w}; a {@link FreePorts.PortTaken} when the server log says another process holds the
     * port (the caller picks another, or waits for ours), an AssertionError with the log's tail otherwise.
     */
    void start() {
        long logSize = logSize();
        Processes.Result r = pgCtl(startPrefix, "start", "-l", logFile.toString());
        if (r.ok()) {
            return;
        }
        String message = r.describe("could not start PostgreSQL") + "\n--- server log (tail) ---\n" + logTail(40);
        if (FreePorts.saysPortTaken(logSince(logSize))) {
            throw new FreePorts.PortTaken(message);
        }
        throw new AssertionError(message);
    }

    /** {@code pg_ctl stop -m <mode>} (fast, immediate); waits until the postmaster is gone. */
    void stop(String mode) {
        pgCtl("stop", "-m", mode).orThrow();
    }

    /** {@code pg_ctl promote -w}: returns once the standby has left recovery. */
    void promote() {
        pgCtl("promote").orThrow();
    }

    /** Whether the postmaster runs ({@code pg_ctl status}). */
    boolean isRunning() {
        return pgCtl("status").ok();
    }

    /** Whether a postmaster.pid says a server may still run (then {@code stop} is needed before deleting). */
    boolean mayBeRunning() {
        return Files.exists(dataDir.resolve("postmaster.pid"));
    }

    /** Runs a server-side program as the OS user the server runs as, in the server's directory. */
    Processes.Result run(Duration timeout, List<String> cmd) {
        return run(List.of(), timeout, cmd);
    }

    private Processes.Result run(List<String> prefix, Duration timeout, List<String> cmd) {
        List<String> full = new ArrayList<>(prefix);
        full.addAll(OwnedDirs.asPostgres(cmd));
        return Processes.run(timeout, full, PgServer.clientEnv(), baseDir, null);
    }

    String logTail(int lines) {
        return OwnedDirs.tail(logFile, lines);
    }

    /**
     * Once per JVM: stops the servers of test JVMs that died without their shutdown hooks (SIGKILL, a CI timeout)
     * and deletes their directories.
     */
    static void reapStale(Path bin) {
        OwnedDirs.reapStale(DIR_PREFIX, dir -> {
            PgCtl ctl = new PgCtl(bin, dir);
            if (ctl.mayBeRunning()) {
                ctl.stop("immediate");
            }
        });
    }

    /** The directory holding initdb, pg_ctl, postgres and psql ({@code $PG_BIN} or the default); fails if absent. */
    static Path checkedBinDir(String defaultBin) {
        String env = System.getenv("PG_BIN");
        Path bin = Path.of(env != null && !env.isBlank() ? env : defaultBin);
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
        if (OwnedDirs.runningAsRoot()) {
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

    private Processes.Result pgCtl(String... args) {
        return pgCtl(List.of(), args);
    }

    private Processes.Result pgCtl(List<String> prefix, String... args) {
        List<String> cmd = new ArrayList<>(List.of(bin("pg_ctl"), "-D", dataDir.toString()));
        cmd.addAll(List.of(args));
        if (!args[0].equals("status")) { // for promote, -w waits until the server has left recovery
            cmd.addAll(List.of("-w", "-t", Integer.toString(WAIT_SECONDS)));
        }
        return run(prefix, TIMEOUT, cmd);
    }

    private long logSize() {
        try {
            return Files.exists(logFile) ? Files.size(logFile) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    /** What the server logged after the log had {@code size} bytes. */
    private String logSince(long size) {
        try {
            byte[] all = Files.readAllBytes(logFile);
            int from = (int) Math.min(size, all.length);
            return new String(all, from, all.length - from, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
