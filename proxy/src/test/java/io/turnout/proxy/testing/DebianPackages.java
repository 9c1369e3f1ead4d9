package io.turnout.proxy.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs a Debian package a test needs when its programs are missing, the way .ci/run does, so a test
 * never skips for want of a tool: as root with apt-get, with a policy-rc.d that keeps the package's own
 * service from starting (tests start their own instances on free ports). Not root: fails, naming the command.
 */
public final class DebianPackages {
    private static final Logger log = LoggerFactory.getLogger(DebianPackages.class);

    private static final Path POLICY_RC_D = Path.of("/usr/sbin/policy-rc.d");
    /** apt-get update plus the download and unpacking of a package with its dependencies on a slow mirror. */
    private static final Duration APT_TIMEOUT = Duration.ofMinutes(10);
    /** Another engineer's or test's apt-get may hold the dpkg lock for a while; wait rather than fail. */
    private static final String LOCK_WAIT = "DPkg::Lock::Timeout=300";

    private DebianPackages() {}

    /** Makes sure every one of {@code programs} is executable, installing {@code pkg} if one is not. */
    public static synchronized void ensure(String pkg, List<Path> programs) {
        if (missing(programs).isEmpty()) {
            return;
        }
        if (!OwnedDirs.runningAsRoot()) {
            throw new IllegalStateException(missing(programs) + " missing and not root: apt-get install -y " + pkg);
        }
        long t0 = System.nanoTime();
        log.info("installing Debian package {} for {}", pkg, missing(programs));
        Map<String, String> env = Map.of("DEBIAN_FRONTEND", "noninteractive");
        boolean addedPolicy = addPolicy();
        try {
            Processes.run(APT_TIMEOUT, List.of("apt-get", "-o", LOCK_WAIT, "update", "-q"), env, null, null)
                    .orThrow();
            Processes.run(APT_TIMEOUT, List.of("apt-get", "-o", LOCK_WAIT, "install", "-y", "-q",
                    "--no-install-recommends", pkg), env, null, null).orThrow();
        } finally {
            if (addedPolicy) {
                try {
                    Files.deleteIfExists(POLICY_RC_D);
                } catch (IOException e) {
                    log.warn("could not remove {}: {}", POLICY_RC_D, e.toString());
                }
            }
        }
        List<Path> still = missing(programs);
        if (!still.isEmpty()) {
            throw new IllegalStateException(still + " still missing after apt-get install -y " + pkg);
        }
        log.info("installed Debian package {} ({} ms)", pkg, (System.nanoTime() - t0) / 1_000_000);
    }

    private static List<Path> missing(List<Path> programs) {
        List<Path> missing = new ArrayList<>();
        for (Path p : programs) {
            if (!Files.isExecutable(p)) {
                missing.add(p);
            }
        }
        return missing;
    }

    /** Writes a policy-rc.d that denies every service start (exit 101) unless one exists; true if it wrote one. */
    private static boolean addPolicy() {
        if (Files.exists(POLICY_RC_D)) {
            return false;
        }
        try {
            Files.writeString(POLICY_RC_D, "#!/bin/sh\nexit 101\n");
            Files.setPosixFilePermissions(POLICY_RC_D, PosixFilePermissions.fromString("rwxr-xr-x"));
            return true;
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + POLICY_RC_D + " to keep services from starting", e);
        }
    }
}
