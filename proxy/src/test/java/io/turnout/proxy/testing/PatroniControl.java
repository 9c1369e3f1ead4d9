package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * What an operator does to a {@link PatroniCluster}: a switchover (patronictl; a scheduled one and its
 * cancelling through the REST API patronictl calls), maintenance mode ({@code patronictl pause/resume}), and a
 * member's Patroni that hangs (SIGSTOP, as a stuck VM or a GC-paused host looks to the leader) or stops cleanly
 * (SIGTERM: while paused it leaves PostgreSQL running and its leader key in etcd until the lease runs out).
 */
public final class PatroniControl {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CTL = Duration.ofSeconds(120);

    private PatroniControl() {
    }

    /**
     * A switchover from {@code leader} to {@code candidate} scheduled {@code in} from now: POST /switchover to the
     * leader's REST API with {@code scheduled_at}, which is what {@code patronictl switchover --scheduled} sends
     * (Patroni writes the failover key with scheduled_at and checks the candidate only at that time, in the
     * leader's HA loop). Not through patronictl: its python start can take seconds on a busy CI box, and the
     * time was then already past or too near for the test. Returns scheduled_at, whole milliseconds.
     */
    public static Instant scheduleSwitchover(PatroniCluster c, PatroniNode leader, PatroniNode candidate, Duration in) {
        Instant at = Instant.now().plus(in).truncatedTo(ChronoUnit.MILLIS);
        String body = JSON.createObjectNode().put("leader", leader.name()).put("candidate", candidate.name())
                .put("scheduled_at", at.toString()).toString();
        expect(c, leader.restSend("POST", "/switchover", body), 202, "POST /switchover " + body);
        return at;
    }

    /**
     * Cancels a scheduled switchover as {@code patronictl flush <scope> switchover} does: DELETE /switchover to the
     * leader's REST API, which writes the failover key to {}.
     */
    public static void flushSwitchover(PatroniCluster c) {
        expect(c, c.leader().restSend("DELETE", "/switchover", null), 200, "DELETE /switchover");
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
        patronictl(c, action, "Success: cluster management is " + done, List.of("--wait", c.scope()));
    }

    /**
     * {@code patronictl -c <first member's config> <command> args...} (the config only names etcd and the scope);
     * fails with its output and the cluster's state unless it exits 0 and prints {@code expect}.
     */
    static void patronictl(PatroniCluster c, String command, String expect, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(PatroniCluster.PATRONICTL.toString(), "-c",
                c.nodes().get(0).configFile().toString(), command));
        cmd.addAll(args);
        Processes.Result r = Processes.run(CTL, cmd, PatroniNode.cleanEnv(), c.nodes().get(0).dir(), null);
        if (!r.ok() || !r.stdout().contains(expect)) {
            throw new AssertionError(r.describe("failed (exit " + r.exitCode() + ")") + "\n" + c.describe());
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
        try {
            Await.until(n.name() + "'s Patroni to exit after SIGTERM", grace, () -> !n.isPatroniRunning());
            return true;
        } catch (AssertionError lingered) {
            LoggerFactory.getLogger(PatroniControl.class).warn("patroni_stop_lingered member={} patroni_alive={}"
                    + " threads_or_children={}", n.name(), patroni.isAlive(), patroni.descendants().count());
            n.killPatroniOnly();
            return false;
        }
    }

    /** Starts a member's Patroni again (after {@link #stopPatroni}). */
    public static void startPatroni(PatroniNode n) {
        n.launch();
    }

    private static void expect(PatroniCluster c, HttpResponse<String> r, int status, String what) {
        if (r.statusCode() != status) {
            throw new AssertionError(what + " answered " + r.statusCode() + " " + r.body() + ", not " + status + "\n"
                    + c.describe());
        }
    }

    private static ProcessHandle signal(PatroniNode n, String sig) {
        ProcessHandle p = n.patroniProcess();
        if (p == null) {
            throw new IllegalStateException(n + "'s Patroni is not running");
        }
        ServerProcess.signal(p, sig);
        return p;
    }
}
