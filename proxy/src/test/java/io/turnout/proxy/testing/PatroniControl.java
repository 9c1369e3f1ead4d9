package io.turnout.proxy.testing;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * What an operator does to a {@link PatroniCluster} besides an immediate switchover: a scheduled switchover,
 * maintenance mode ({@code patronictl pause/resume}), and a member's Patroni that hangs (SIGSTOP, as a stuck
 * VM or a GC-paused host looks to the leader) or stops cleanly (SIGTERM: while paused it leaves PostgreSQL
 * running and its leader key in etcd until the lease runs out).
 */
public final class PatroniControl {
    private static final Duration CTL = Duration.ofSeconds(90);

    private PatroniControl() {
    }

    /**
     * {@code patronictl switchover --leader L --candidate C --scheduled <now + in> --force}: Patroni's REST API
     * writes the failover key with {@code scheduled_at} (it checks the candidate only at that time, in the
     * leader's HA loop). Returns scheduled_at, whole milliseconds.
     */
    public static Instant scheduleSwitchover(PatroniCluster c, PatroniNode leader, PatroniNode candidate, Duration in) {
        Instant at = Instant.now().plus(in).truncatedTo(ChronoUnit.MILLIS);
        Processes.Result r = c.patronictl(CTL, List.of("switchover", "--leader", leader.name(), "--candidate",
                candidate.name(), "--scheduled", at.toString(), "--force", c.scope()));
        if (!r.ok() || !r.stdout().contains("cheduled")) {
            throw new AssertionError("patronictl switchover --scheduled failed (exit " + r.exitCode() + ")\n"
                    + r.stdout() + "\n" + r.stderr() + "\n" + c.describe());
        }
        return at;
    }

    /** {@code patronictl flush <scope> switchover}: Patroni's DELETE /switchover writes the failover key to {}. */
    public static void flushSwitchover(PatroniCluster c) {
        Processes.Result r = c.patronictl(CTL, List.of("flush", c.scope(), "switchover"));
        if (!r.ok() || !r.stdout().contains("Success: scheduled switchover deleted")) {
            throw new AssertionError("patronictl flush switchover failed (exit " + r.exitCode() + ")\n" + r.stdout()
                    + "\n" + r.stderr() + "\n" + c.describe());
        }
    }

    /** {@code patronictl pause --wait}: every member has applied maintenance mode when this returns. */
    public static void pause(PatroniCluster c) {
        toggle(c, "pause", "paused");
    }

    /** {@code patronictl resume --wait}. */
    public static void resume(PatroniCluster c) {
        toggle(c, "resume", "resumed");
    }

    private static void toggle(PatroniCluster c, String action, String done) {
        Processes.Result r = c.patronictl(CTL, List.of(action, "--wait", c.scope()));
        if (!r.ok() || !r.stdout().contains("Success: cluster management is " + done)) {
            throw new AssertionError("patronictl " + action + " failed (exit " + r.exitCode() + ")\n" + r.stdout()
                    + "\n" + r.stderr() + "\n" + c.describe());
        }
    }

    /** SIGSTOP of the member's Patroni (its REST API stops answering; PostgreSQL runs on). */
    public static void hang(PatroniNode n) {
        signal(n, "STOP");
    }

    /** SIGCONT after {@link #hang}. */
    public static void unhang(PatroniNode n) {
        signal(n, "CONT");
    }

    /**
     * SIGTERM of the member's Patroni; waits until it exited. Returns false when it had to be killed: Patroni
     * 3.0.2 in maintenance mode logs its shutdown ("Leader key is not deleted and Postgresql is not stopped due
     * paused state") and may linger; after {@code grace} it gets SIGKILL, as systemd's stop would give it.
     * PostgreSQL runs on either way (it is not Patroni's child).
     */
    public static boolean stopPatroni(PatroniNode n, Duration grace) {
        ProcessHandle patroni = signal(n, "TERM");
        long deadline = System.nanoTime() + grace.toNanos();
        while (n.isPatroniRunning()) {
            if (System.nanoTime() > deadline) {
                LoggerFactory.getLogger(PatroniControl.class).warn("patroni_stop_lingered member={} patroni_alive={}"
                        + " threads_or_children={}", n.name(), patroni.isAlive(), patroni.descendants().count());
                n.killPatroniOnly();
                return false;
            }
            OwnedDirs.sleep(Duration.ofMillis(50));
        }
        return true;
    }

    /** Starts a member's Patroni again (after {@link #stopPatroni}). */
    public static void startPatroni(PatroniNode n) {
        n.launch();
    }

    private static ProcessHandle signal(PatroniNode n, String sig) {
        ProcessHandle p = n.patroniProcess();
        if (p == null) {
            throw new IllegalStateException(n + "'s Patroni is not running");
        }
        Processes.run(Duration.ofSeconds(10), List.of("kill", "-" + sig, Long.toString(p.pid()))).orThrow();
        return p;
    }
}
