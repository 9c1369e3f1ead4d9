package io.turnout.proxy.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small file system of the test's own that it can fill: a tmpfs of a given size mounted at
 * {@code /tmp/turnout-fs-* /mnt}, owned by the postgres OS user, for a tablespace or a pg_wal directory.
 * {@link #fill(long)} writes a filler file until only so many bytes are left, as another program filling the
 * disk would; {@link #freeFiller()} deletes it. {@link #close()} unmounts (lazily if PostgreSQL still holds a
 * file there) and deletes the directory; a mount whose JVM died is unmounted by the next JVM's first
 * {@link #create}. Needs root (CI runs as root).
 */
public final class TmpfsMount implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TmpfsMount.class);
    private static final String PREFIX = "turnout-fs-";
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final int CHUNK = 64 * 1024;

    private final Path dir;
    private final Path mnt;
    private final Path filler;
    private volatile boolean closed;

    private TmpfsMount(Path dir) {
        this.dir = dir;
        this.mnt = dir.resolve("mnt");
        this.filler = mnt.resolve("filler");
    }

    /** A tmpfs of {@code megabytes} MiB, empty and given to postgres; {@link #close()} it when done. */
    public static TmpfsMount create(int megabytes) {
        if (!OwnedDirs.runningAsRoot()) {
            throw new IllegalStateException("mounting a tmpfs needs root: run the tests as root, as CI does");
        }
        OwnedDirs.reapStale(PREFIX, d -> umount(d.resolve("mnt")));
        TmpfsMount m = new TmpfsMount(OwnedDirs.create(PREFIX, false));
        try {
            Files.createDirectory(m.mnt);
            Processes.run(TIMEOUT, List.of("mount", "-t", "tmpfs", "-o", "size=" + megabytes + "m,mode=0700",
                    "tmpfs", m.mnt.toString())).orThrow();
            OwnedDirs.chownToPostgres(m.mnt);
        } catch (IOException e) {
            m.close();
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            m.close();
            throw e;
        }
        return m;
    }

    /** The mount point (empty but for what the test puts there). */
    public Path path() {
        return mnt;
    }

    /** A new directory on the mount, owned by postgres (a tablespace's location, say). */
    public Path newDirectory(String name) {
        try {
            Path d = Files.createDirectory(mnt.resolve(name));
            OwnedDirs.chownToPostgres(d);
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Bytes still free. */
    public long free() {
        try {
            return Files.getFileStore(mnt).getUsableSpace();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes zeros into a filler file until at most {@code leaveBytes} are free (tmpfs has no sparse space). */
    public void fill(long leaveBytes) {
        byte[] chunk = new byte[CHUNK];
        try (OutputStream out = Files.newOutputStream(filler)) {
            for (long left = free() - leaveBytes; left > 0; left -= CHUNK) {
                out.write(chunk, 0, (int) Math.min(CHUNK, left));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot fill " + mnt + " (free " + free() + ")", e);
        }
    }

    /** Deletes the filler: the space it held is free again. */
    public void freeFiller() {
        try {
            Files.deleteIfExists(filler);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Unmounts and deletes the directory; stop PostgreSQL first, or the unmount is only lazy. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        umount(mnt);
        OwnedDirs.deleteTree(dir);
    }

    private static void umount(Path mnt) {
        if (!Files.exists(mnt)) {
            return;
        }
        Processes.Result r = Processes.run(TIMEOUT, List.of("umount", mnt.toString()));
        if (!r.ok() && !r.stderr().contains("not mounted")) {
            log.warn("umount {} failed ({}), detaching it lazily", mnt, r.stderr().strip());
            Processes.run(TIMEOUT, List.of("umount", "-l", mnt.toString()));
        }
    }
}
