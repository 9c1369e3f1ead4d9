package io.turnout.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.protocol.testing.LeakCheck;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The figures of one fault case (FaultInjectionIT, ServerOutageIT), printed as one line the README's
 * Reliability table is copied from:
 * {@code fault: case=... faulted="..." others_errors=0 others_inflight_failed=0 detect_ms=... recovery_ms=... leaked_buffers=0}.
 */
public final class FaultFigures {
    /** Opens a connection (through Turnout) for {@link #untilWorks}. */
    public interface Connect {
        Connection open() throws SQLException;
    }

    /** A step expected to fail. */
    public interface Failing {
        void run() throws SQLException;
    }

    private final String name;
    private final long startNanos = System.nanoTime();
    private final int leaksBefore;
    private String faultedSaw = "-";
    private long othersErrors;
    private long othersInflightFailed;
    private long detectMs = -1;
    private long recoveryMs = -1;

    private FaultFigures(String name, int leaksBefore) {
        this.name = name;
        this.leaksBefore = leaksBefore;
    }

    /** Starts a case: leaks Netty reported before it are not its own. */
    public static FaultFigures begin(String name) throws InterruptedException {
        return new FaultFigures(name, LeakCheck.reportedSoFar());
    }

    public FaultFigures faultedSaw(String what) {
        this.faultedSaw = what;
        return this;
    }

    public FaultFigures faultedSaw(SQLException e) {
        return faultedSaw(e.getSQLState() + " " + e.getMessage().lines().findFirst().orElse(""));
    }

    /** Transactions of clients outside the faulted connection that failed though they must not have. */
    public FaultFigures othersErrors(long n) {
        this.othersErrors = n;
        return this;
    }

    /** Transactions of other clients that were running when the fault struck all backends, and failed. */
    public FaultFigures othersInflightFailed(long n) {
        this.othersInflightFailed = n;
        return this;
    }

    /** Waits for 100 more commits of {@code others} (clients {@code who}), counts their errors, fails on any. */
    public FaultFigures othersUnaffected(ShardLoad others, String who) throws InterruptedException {
        others.awaitCommits(100);
        othersErrors(others.failures.size());
        assertThat(others.failures).as(who).isEmpty();
        return this;
    }

    /** From the fault to the faulted client's error (or the slowness it saw). */
    public FaultFigures detected(long faultNanos, long seenNanos) {
        this.detectMs = TimeUnit.NANOSECONDS.toMillis(seenNanos - faultNanos);
        return this;
    }

    /** From {@code fromNanos} (the fault, or the cause going away) to the first success after it. */
    public FaultFigures recovered(long fromNanos, long firstSuccessNanos) {
        this.recoveryMs = TimeUnit.NANOSECONDS.toMillis(firstSuccessNanos - fromNanos);
        return this;
    }

    /** Call after Turnout and the relay closed: counts leaks reported during the case and prints the line. */
    public int print() throws InterruptedException {
        int leaked = LeakCheck.reportedSoFar() - leaksBefore;
        System.out.printf("fault: case=%s faulted=\"%s\" others_errors=%d others_inflight_failed=%d detect_ms=%d"
                        + " recovery_ms=%d leaked_buffers=%d case_ms=%d%n", name, faultedSaw.replace('"', '\''),
                othersErrors, othersInflightFailed, detectMs, recoveryMs, leaked,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
        return leaked;
    }

    /**
     * An error a client gets when the server under its running transaction went away: Turnout's 08006 for a
     * lost server, PostgreSQL's own FATAL as it shuts down or resets (57P01, 57P02) forwarded ahead of it, or
     * pgjdbc's I/O error when Turnout's close overtook that message. Anything else (a refused or timed-out
     * wait for a server) reached a client outside a transaction.
     */
    public static boolean lostMidTransaction(String error) {
        return error.startsWith("57P01 ") || error.startsWith("57P02 ") || error.startsWith("08006 ")
                && (error.contains("server connection closed unexpectedly") || error.contains("An I/O error occurred"));
    }

    /** The failures of {@code errors} that are not {@link #lostMidTransaction}. */
    public static List<String> notLostMidTransaction(Collection<String> errors) {
        return errors.stream().filter(e -> !lostMidTransaction(e)).toList();
    }

    /** Closes what a case opened (Turnout, relays), skipping what is null. */
    public static void closeAll(AutoCloseable... all) throws Exception {
        for (AutoCloseable c : all) {
            if (c != null) {
                c.close();
            }
        }
    }

    /** The error {@code step} ends with; fails the test if it ends without one. */
    public static SQLException errorOf(Failing step) {
        try {
            step.run();
        } catch (SQLException e) {
            return e;
        }
        throw new AssertionError("expected an error, the step succeeded");
    }

    /**
     * Opens a connection and runs {@code select 1} every 50 ms until it works (at most {@code timeoutMs});
     * returns the nanoTime it worked, or throws the last error.
     */
    public static long untilWorks(Connect connect, long timeoutMs) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (true) {
            try (Connection c = connect.open(); Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("select 1")) {
                rs.next();
                return System.nanoTime();
            } catch (SQLException e) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("still failing after " + timeoutMs + " ms", e);
                }
                Thread.sleep(50);
            }
        }
    }
}
