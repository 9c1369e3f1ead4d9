package io.turnout.proxy.testing;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Reader threads through Turnout on one database, each running {@code select inet_server_port()} in autocommit:
 * the server that served a read says so itself, so reads are counted per server port (per member of a shard). A
 * reader whose connection fails keeps the error and reconnects.
 */
public final class ReadLoad implements AutoCloseable {
    /** A busy 2-core CI box may stall the readers (and Patroni's loop) for many seconds. */
    private static final Duration AWAIT = Duration.ofSeconds(90);

    public final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    private final Map<Integer, AtomicLong> byPort = new ConcurrentHashMap<>();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final ExecutorService workers;
    private final TurnoutFixture turnout;
    private final String database;
    private final Supplier<String> detail;

    /** {@code detail} (say, the route in force) goes into a failed wait. */
    public ReadLoad(TurnoutFixture turnout, String database, int threads, Supplier<String> detail) {
        this.turnout = turnout;
        this.database = database;
        this.detail = detail;
        this.workers = Executors.newFixedThreadPool(threads);
        for (int i = 0; i < threads; i++) {
            workers.submit(this::run);
        }
    }

    /** One read on a new connection: the port of the server that served it. */
    public static int readOnce(TurnoutFixture turnout, String database) throws SQLException {
        try (Connection c = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, database, new Properties())) {
            return port(c);
        }
    }

    private static int port(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select inet_server_port()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private void run() {
        Connection c = null;
        while (running.get()) {
            try {
                if (c == null) {
                    c = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, database, new Properties());
                }
                byPort.computeIfAbsent(port(c), p -> new AtomicLong()).incrementAndGet();
            } catch (SQLException e) {
                if (running.get()) {
                    failures.add(e.getSQLState() + " " + e.getMessage());
                }
                close(c);
                c = null;
            }
        }
        close(c);
    }

    /** Reads served by the server on {@code port} so far. */
    public long on(int port) {
        AtomicLong v = byPort.get(port);
        return v == null ? 0 : v.get();
    }

    /** Waits until {@code more} further reads were served on {@code port} ({@code name} says whose it is). */
    public void awaitOn(int port, String name, long more) {
        long target = on(port) + more;
        Await.until(more + " more reads of " + database + " on " + name, AWAIT, Duration.ofMillis(10),
                () -> on(port) >= target, () -> "reads by port " + byPort + ", failures " + failures + "\n"
                        + detail.get());
    }

    @Override
    public String toString() {
        return database + " reads by port " + byPort + ", failures " + failures.size();
    }

    private static void close(Connection c) {
        try {
            if (c != null) {
                c.close();
            }
        } catch (SQLException ignored) {
            // broken already
        }
    }

    @Override
    public void close() throws InterruptedException {
        running.set(false);
        workers.shutdown();
        if (!workers.awaitTermination(60, TimeUnit.SECONDS)) {
            throw new AssertionError("readers of " + database + " did not stop: " + workers.shutdownNow());
        }
    }
}
