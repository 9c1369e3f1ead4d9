package io.turnout.proxy.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Temporary directories that know which JVM owns them, and what every server fixture needs around them: pid
 * files, reaping what a dead JVM left, running as the postgres OS user, log tails.
 *
 * <p>Each directory holds an {@code owner} file tagging the JVM ("pid start-instant": a pid alone could name an
 * unrelated process after a pid wrap). A JVM killed without its shutdown hooks (SIGKILL, a CI timeout) leaves
 * servers behind; the next JVM's first fixture of that kind stops them (see {@link #reapStale}) and deletes the
 * directory.
 */
final class OwnedDirs {
    private static final Logger log = LoggerFactory.getLogger(OwnedDirs.class);
    static final String HOST = FreePorts.HOST;
    private static final Set<String> REAPED = ConcurrentHashMap.newKeySet();

    private OwnedDirs() {}

    /** A fresh {@code /tmp/<prefix>*} directory (0755) tagged with this JVM; given to postgres if {@code pg}. */
    static Path create(String prefix, boolean pg) {
        try {
            Path dir = Files.createTempDirectory(Path.of("/tmp"), prefix);
            Files.writeString(dir.resolve("owner"), tag(ProcessHandle.current()));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            if (pg) {
                chownToPostgres(dir);
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a test directory under /tmp", e);
        }
    }

    /** Gives a path to the postgres OS user and group when the JVM is root (who runs PostgreSQL as postgres). */
    static void chownToPostgres(Path p) {
        if (!runningAsRoot()) {
            return;
        }
        try {
            UserPrincipalLookupService lookup = p.getFileSystem().getUserPrincipalLookupService();
            PosixFileAttributeView view = Files.getFileAttributeView(p, PosixFileAttributeView.class);
            view.setOwner(lookup.lookupPrincipalByName("postgres"));
            view.setGroup(lookup.lookupPrincipalByGroupName("postgres"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot give " + p + " to the postgres OS user (does it exist?)", e);
        }
    }

    /** {@code cmd} run as the postgres OS user through runuser when the JVM is root (PostgreSQL refuses root). */
    static List<String> asPostgres(List<String> cmd) {
        if (!runningAsRoot()) {
            return cmd;
        }
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
        wrapped.addAll(cmd);
        return wrapped;
    }

    static boolean runningAsRoot() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue() == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    /** Records a process in a pid file so that a later JVM can stop it if this one dies first. */
    static void writePid(Path file, ProcessHandle h) {
        try {
            Files.writeString(file, tag(h));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The live process a pid file names, or null if it is gone (or the pid now names another process). */
    static ProcessHandle tagged(Path file) {
        try {
            String[] t = Files.readString(file).strip().split(" ");
            return ProcessHandle.of(Long.parseLong(t[0]))
                    .filter(h -> h.isAlive() && t.length > 1 && startOf(h).equals(t[1]))
                    .orElse(null);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** {@link #reapStale(String, Consumer)} killing what every {@code *.pid} file in the directory names. */
    static void reapStale(String prefix) {
        reapStale(prefix, OwnedDirs::killTagged);
    }

    /** Kills every live process a {@code *.pid} file under {@code dir} names (see {@link #writePid}). */
    static void killTagged(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.filter(f -> f.getFileName().toString().endsWith(".pid")).map(OwnedDirs::tagged)
                    .forEach(Processes::destroyTree);
        } catch (IOException | UncheckedIOException e) {
            log.warn("could not list {}: {}", dir, e.toString());
        }
    }

    /**
     * Once per JVM and prefix: for each {@code /tmp/<prefix>*} whose owner JVM is gone, runs {@code stop} (kill
     * what the pid files in it name) and deletes it. A directory without a readable owner tag is being created
     * by a JVM right now and is left alone.
     */
    static void reapStale(String prefix, Consumer<Path> stop) {
        if (!REAPED.add(prefix)) {
            return;
        }
        try (Stream<Path> dirs = Files.list(Path.of("/tmp"))) {
            for (Path d : dirs.filter(x -> x.getFileName().toString().startsWith(prefix)).toList()) {
                Path owner = d.resolve("owner");
                if (!Files.exists(owner) || tagged(owner) != null) {
                    continue;
                }
                try {
                    stop.accept(d);
                } catch (RuntimeException | AssertionError e) {
                    log.warn("could not stop what {} left running: {}", d, e.toString());
                }
                log.info("removing stale test directory {}", d);
                deleteTree(d);
            }
        } catch (IOException e) {
            log.warn("could not clean up stale {}* directories: {}", prefix, e.toString());
        }
    }

    static void deleteTree(Path root) {
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (NoSuchFileException e) {
            // already gone
        } catch (IOException | UncheckedIOException e) {
            log.warn("could not delete {}: {}", root, e.toString());
        }
    }

    /** The last {@code lines} lines of a log file, for failure messages. */
    static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, java.nio.charset.StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (NoSuchFileException e) {
            return "(no " + file + ")";
        } catch (IOException | UncheckedIOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    private static String tag(ProcessHandle h) {
        return h.pid() + " " + startOf(h) + "\n";
    }

    private static String startOf(ProcessHandle h) {
        return h.info().startInstant().map(Instant::toString).orElse("?");
    }
}
