package io.turnout.proxy.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The real PgBouncer (Debian's package, 1.18) on a free 127.0.0.1 port, for tests that hold Turnout side by side
 * with it. Its directory ({@code /tmp/turnout-pgbouncer-*}) holds {@code pgbouncer.ini}, {@code users.txt} and
 * {@code pgbouncer.log}; PgBouncer refuses to run as root, so a root JVM runs it as the postgres OS user.
 * {@link #close()} kills it and deletes the directory; the next JVM reaps what a killed one left.
 */
public final class PgBouncer implements AutoCloseable {
    public static final Path BIN = Path.of("/usr/sbin/pgbouncer");
    private static final String DIR_PREFIX = "turnout-pgbouncer-";
    private static final Duration AWAIT = Duration.ofSeconds(60);

    private final Path dir;
    private final int port;
    private final ServerProcess process;

    private PgBouncer(Path dir, int port) {
        this.dir = dir;
        this.port = port;
        this.process = new ServerProcess("pgbouncer", OwnedDirs.asPostgres(List.of(BIN.toString(),
                dir.resolve("pgbouncer.ini").toString())), dir);
    }

    /**
     * Starts PgBouncer with {@code databases} as its [databases] section, {@code settings} (lines of
     * {@code key = value}) in its [pgbouncer] section and {@code users} as its auth_file; the fixture adds
     * listen_addr, listen_port, auth_file and an empty unix_socket_dir. Returns once it accepts TCP connections.
     */
    public static PgBouncer start(String databases, String settings, String users) {
        DebianPackages.ensure("pgbouncer", List.of(BIN));
        OwnedDirs.reapStale(DIR_PREFIX);
        return FreePorts.retry("PgBouncer", () -> {
            PgBouncer b = new PgBouncer(OwnedDirs.create(DIR_PREFIX, true), FreePorts.pick());
            try {
                Files.writeString(b.dir.resolve("users.txt"), users);
                Files.writeString(b.dir.resolve("pgbouncer.ini"), "[databases]\n" + databases.strip()
                        + "\n[pgbouncer]\nlisten_addr = " + FreePorts.HOST + "\nlisten_port = " + b.port
                        + "\nauth_file = " + b.dir.resolve("users.txt") + "\nunix_socket_dir =\n" + settings.strip()
                        + "\n");
                b.process.startAndAwait(AWAIT, b::listens);
                return b;
            } catch (IOException e) {
                b.close();
                throw new UncheckedIOException(e);
            } catch (RuntimeException | AssertionError e) {
                b.close();
                throw e;
            }
        });
    }

    public String host() {
        return FreePorts.HOST;
    }

    public int port() {
        return port;
    }

    public String logTail(int lines) {
        return process.logTail(lines);
    }

    /** Kills PgBouncer and deletes its directory. */
    @Override
    public void close() {
        process.kill();
        OwnedDirs.deleteTree(dir);
    }

    private boolean listens() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(FreePorts.HOST, port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
