package io.turnout.proxy.testing;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A well-behaved client that keeps running small transactions while a test abuses Turnout, to prove
 * the abuse hurts nobody else. {@link #stop()} fails if it saw any error or made no progress.
 */
public final class Canary implements AutoCloseable {
    private final Thread thread;
    private final AtomicInteger ok = new AtomicInteger();
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    /** The slowest round trip since the last {@link #resetMax()}, in nanoseconds. */
    private final java.util.concurrent.atomic.AtomicLong maxNanos = new java.util.concurrent.atomic.AtomicLong();
    private volatile boolean running = true;

    public Canary(TurnoutFixture turnout) throws Exception {
        this(turnout.connect());
    }

    /** A canary on {@code c} (which it closes), for a Turnout that is not a fixture (bench/hostile). */
    public Canary(Connection c) {
        thread = new Thread(() -> {
            try (c) {
                while (running) {
                    long t0 = System.nanoTime();
                    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("select 1")) {
                        rs.next();
                        if (rs.getInt(1) != 1) {
                            throw new AssertionError("canary got a wrong result");
                        }
                        ok.incrementAndGet();
                    }
                    maxNanos.accumulateAndGet(System.nanoTime() - t0, Math::max);
                    Thread.sleep(5);
                }
            } catch (Throwable t) {
                errors.add(t);
            }
        }, "canary");
        thread.start();
    }

    /** The slowest {@code select 1} round trip since it started or since {@link #resetMax()}, in ms. */
    public double maxMillis() {
        return maxNanos.get() / 1e6;
    }

    public void resetMax() {
        maxNanos.set(0);
    }

    /** Round trips completed so far. */
    public int completed() {
        return ok.get();
    }

    /** Stops and asserts it ran without error. */
    public void stop() throws InterruptedException {
        int before = ok.get();
        Thread.sleep(100);
        running = false;
        thread.join(10_000);
        if (!errors.isEmpty()) {
            throw new AssertionError("the well-behaved client failed", errors.get(0));
        }
        if (ok.get() == 0 || ok.get() == before && thread.isAlive()) {
            throw new AssertionError("the well-behaved client made no progress");
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.join(10_000);
    }
}
