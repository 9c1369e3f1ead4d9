package io.turnout.proxy.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The one polling loop of the fixtures: wait for a condition until a deadline, never for a fixed time. CI is a
 * busy 2-core box, so callers pass deadlines many times what a quiet machine needs; a wait that succeeds
 * returns at the first poll that sees the condition, so a generous deadline costs nothing.
 *
 * <p>A probe that throws (a server still starting, a REST API not answering yet) counts as "not yet"; its last
 * exception is attached to the timeout error. {@link Abort} ends the wait at once (say, the process exited).
 */
public final class Await {
    /** The default interval between two probes. */
    public static final Duration POLL = Duration.ofMillis(50);

    private Await() {}

    /** Thrown by a probe to stop waiting at once: the condition can no longer come true. */
    public static final class Abort extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public Abort(String message) {
            super(message);
        }
    }

    /** Polls {@code condition} every {@link #POLL} until it holds; fails after {@code timeout} naming {@code what}. */
    public static void until(String what, Duration timeout, BooleanSupplier condition) {
        until(what, timeout, POLL, condition, () -> "");
    }

    /** As {@link #until(String, Duration, BooleanSupplier)}; {@code detail} (say, a log's tail) goes into the failure. */
    public static void until(String what, Duration timeout, BooleanSupplier condition, Supplier<String> detail) {
        until(what, timeout, POLL, condition, detail);
    }

    public static void until(String what, Duration timeout, Duration poll, BooleanSupplier condition,
            Supplier<String> detail) {
        value(what, timeout, poll, () -> condition.getAsBoolean() ? Boolean.TRUE : null, detail);
    }

    /** Polls {@code probe} until it returns non-null and returns that; fails after {@code timeout}. */
    public static <T> T value(String what, Duration timeout, Duration poll, Supplier<T> probe, Supplier<String> detail) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Throwable last = null;
        while (true) {
            try {
                T v = probe.get();
                if (v != null) {
                    return v;
                }
                last = null;
            } catch (Abort e) {
                throw new AssertionError(what + ": " + e.getMessage() + suffix(detail), e);
            } catch (RuntimeException | AssertionError e) {
                last = e;
            }
            if (System.nanoTime() - deadline > 0) {
                AssertionError timedOut = new AssertionError("timed out after " + timeout.toSeconds()
                        + " s waiting for " + what + suffix(detail));
                if (last != null) {
                    timedOut.addSuppressed(last);
                }
                throw timedOut;
            }
            sleep(poll);
        }
    }

    /** Sleeps between two probes (or two polls of a watcher thread); an interrupt fails the test. */
    public static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static String suffix(Supplier<String> detail) {
        String d;
        try {
            d = detail.get();
        } catch (RuntimeException e) {
            d = "(no detail: " + e + ")";
        }
        return d == null || d.isEmpty() ? "" : "\n" + d;
    }
}
