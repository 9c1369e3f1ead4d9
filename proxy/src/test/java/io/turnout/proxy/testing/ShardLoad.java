package io.turnout.proxy.testing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Write transactions through Turnout on one database, each recording which PostgreSQL served it
 * ({@code inet_server_port()}) and when ({@code clock_timestamp()}) in table {@code fo_log}. Every failed
 * transaction is kept with the time it began, so a test can tell transactions that were in flight on a
 * dead leader from ones that began after it died. A worker whose connection dies reconnects.
 */
public final class ShardLoad implements AutoCloseable {
    /** How long the waits below give the load: a busy 2-core CI box may stall it for many seconds. */
    private static final Duration AWAIT = Duration.ofSeconds(120);
    public static final String TABLE = "CREATE TABLE IF NOT EXISTS fo_log (id bigserial primary key, worker int, "
            + "port int, ts timestamptz)";

    /** A transaction that failed: when it began and when it failed (System.nanoTime), and why. */
    public record Failure(long beganNanos, long failedNanos, String error) {
        /** How long the transaction waited before it failed: a held one shows the hold. */
        public long waitedMillis() {
            return TimeUnit.NANOSECONDS.toMillis(failedNanos - beganNanos);
        }
    }

    private final TurnoutFixture turnout;
    private final String database;
    private final ExecutorService workers;
    private final AtomicBoolean running = new AtomicBoolean(true);
    public final AtomicLong commits = new AtomicLong();
    /** The longest transaction so far, begin to commit (a held one shows how long it was held). */
    public final AtomicLong maxTxNanos = new AtomicLong();
    public final ConcurrentLinkedQueue<Failure> failures = new ConcurrentLinkedQueue<>();
    /** Commit time (nanoTime) and server port of the latest commit. */
    private volatile long lastCommitNanos;
    private volatile int lastPort;
    private final ConcurrentLinkedQueue<long[]> commitLog = new ConcurrentLinkedQueue<>();

    public ShardLoad(TurnoutFixture turnout, String database, int threads) {
        this.turnout = turnout;
        this.database = database;
        this.workers = Executors.newFixedThreadPool(threads);
        for (int w = 0; w < threads; w++) {
            int worker = w;
            workers.submit(() -> run(worker));
        }
    }

    private void run(int worker) {
        Connection c = null;
        while (running.get()) {
            long began = System.nanoTime();
            try {
                if (c == null) {
                    Properties p = new Properties();
                    c = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, database, p);
                    c.setAutoCommit(false);
                }
                int port;
                try (PreparedStatement ps = c.prepareStatement(
                        "insert into fo_log (worker, port, ts) values (?, inet_server_port(), clock_timestamp()) "
                                + "returning port")) {
                    ps.setInt(1, worker);
                    try (var rs = ps.executeQuery()) {
                        rs.next();
                        port = rs.getInt(1);
                    }
                }
                c.commit();
                long now = System.nanoTime();
                commits.incrementAndGet();
                maxTxNanos.accumulateAndGet(now - began, Math::max);
                lastCommitNanos = now;
                lastPort = port;
                commitLog.add(new long[] {now, port});
            } catch (SQLException e) {
                if (running.get()) {
                    failures.add(new Failure(began, System.nanoTime(), e.getSQLState() + " " + e.getMessage()));
                }
                try {
                    if (c != null) {
                        c.close();
                    }
                } catch (SQLException ignored) {
                    // already broken
                }
                c = null;
            }
        }
        try {
            if (c != null) {
                c.close();
            }
        } catch (SQLException ignored) {
            // closing anyway
        }
    }

    /** Waits for {@code more} commits (at most {@link #AWAIT}) and fails when they do not come. */
    public void awaitCommits(long more) throws InterruptedException {
        long target = commits.get() + more;
        Await.until(database + " to commit " + more + " more transactions", AWAIT, Duration.ofMillis(5),
                () -> commits.get() >= target, () -> "load stalled at " + commits.get() + " commits; failures " + failures);
    }

    /** The first commit at or after {@code sinceNanos} served by {@code port} (nanoTime), waiting up to {@link #AWAIT}; -1 if none. */
    public long firstCommitOn(int port, long sinceNanos) throws InterruptedException {
        long deadline = System.nanoTime() + AWAIT.toNanos();
        while (System.nanoTime() < deadline) {
            long best = -1;
            for (long[] c : commitLog) {
                if (c[1] == port && c[0] >= sinceNanos && (best < 0 || c[0] < best)) {
                    best = c[0];
                }
            }
            if (best >= 0) {
                return best;
            }
            Thread.sleep(1);
        }
        return -1;
    }

    /** Failures of transactions that began at or after {@code nanos}. */
    public long failuresBeganAfter(long nanos) {
        return failures.stream().filter(f -> f.beganNanos() >= nanos).count();
    }

    @Override
    public void close() throws InterruptedException {
        running.set(false);
        workers.shutdown();
        if (!workers.awaitTermination(60, TimeUnit.SECONDS)) {
            workers.shutdownNow();
            throw new AssertionError("load workers did not stop");
        }
    }
}
