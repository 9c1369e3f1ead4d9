package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * kill -9 of one PostgreSQL backend: the postmaster ends every backend, runs crash recovery, and refuses logins
 * with 57P03 ("the database system is in recovery mode") meanwhile. Turnout holds its clients and retries
 * soon, so its clients' outage stays within a second of a client connected directly, instead of the
 * server_login_retry (15 s) a refused login used to cost.
 */
class BackendCrashIT {
    PgServer pg;
    TurnoutFixture turnout;

    @BeforeEach
    void start() {
        pg = PgServer.start();
        pg.psql("app", "CREATE TABLE crash_log (id bigserial primary key, via text); GRANT ALL ON crash_log TO PUBLIC;"
                + "GRANT ALL ON SEQUENCE crash_log_id_seq TO PUBLIC");
        turnout = TurnoutFixture.builder(pg).set("server_login_retry", 15).set("default_pool_size", 4).start();
    }

    @AfterEach
    void stop() {
        if (turnout != null) {
            turnout.close();
        }
        if (pg != null) {
            pg.close();
        }
    }

    /** A client loop: one insert per transaction, reconnecting 10 ms after an error, as an application would. */
    static final class Loop implements AutoCloseable {
        interface Connect {
            Connection open() throws SQLException;
        }

        final AtomicBoolean running = new AtomicBoolean(true);
        final AtomicLong commits = new AtomicLong();
        final ConcurrentLinkedQueue<long[]> commitTimes = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        final AtomicLong lastFailureNanos = new AtomicLong();
        final List<Thread> threads = new ArrayList<>();

        Loop(String via, int n, Connect connect) {
            for (int i = 0; i < n; i++) {
                Thread t = new Thread(() -> run(via, connect), "crash-load-" + via + "-" + i);
                t.setDaemon(true);
                t.start();
                threads.add(t);
            }
        }

        private void run(String via, Connect connect) {
            Connection c = null;
            while (running.get()) {
                try {
                    if (c == null) {
                        c = connect.open();
                    }
                    try (Statement st = c.createStatement()) {
                        st.execute("insert into crash_log (via) values ('" + via + "')");
                    }
                    long now = System.nanoTime();
                    commits.incrementAndGet();
                    commitTimes.add(new long[] {now});
                } catch (SQLException e) {
                    lastFailureNanos.accumulateAndGet(System.nanoTime(), Math::max);
                    errors.add(e.getSQLState() + " " + e.getMessage());
                    close(c);
                    c = null;
                    sleep(10);
                }
            }
            close(c);
        }

        /** From {@code since} to the first commit after the last failure: what a client saw as the outage. */
        long outageMs(long since) {
            long last = lastFailureNanos.get();
            long first = commitTimes.stream().mapToLong(t -> t[0]).filter(t -> t > last).min().orElse(-1);
            return first < 0 ? -1 : (first - since) / 1_000_000;
        }

        void awaitCommits(long more, long timeoutMs) {
            long target = commits.get() + more;
            long deadline = System.nanoTime() + timeoutMs * 1_000_000;
            while (commits.get() < target && System.nanoTime() < deadline) {
                sleep(5);
            }
            assertThat(commits.get()).as("commits; errors " + errors).isGreaterThanOrEqualTo(target);
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            for (Thread t : threads) {
                t.join(10_000);
            }
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

        private static void sleep(long ms) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    void aCrashedBackendCostsTurnoutClientsNoMoreThanDirectOnes() throws Exception {
        try (Loop viaTurnout = new Loop("turnout", 4, () -> turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD,
                "app", new Properties()));
                Loop direct = new Loop("direct", 2, () -> pg.connect("postgres", "postgres", "app"))) {
            viaTurnout.awaitCommits(200, 30_000);
            direct.awaitCommits(100, 30_000);
            long pid;
            try (Connection victim = pg.connect("postgres", "postgres", "app"); Statement st = victim.createStatement();
                    ResultSet rs = st.executeQuery("select pg_backend_pid()")) {
                rs.next();
                pid = rs.getLong(1);
                long killed = System.nanoTime();
                assertThat(ProcessHandle.of(pid).orElseThrow().destroyForcibly()).isTrue(); // SIGKILL
                // every backend restarts: wait until both loops have failed and committed again
                long deadline = System.nanoTime() + 60_000_000_000L;
                while ((viaTurnout.lastFailureNanos.get() < killed || direct.lastFailureNanos.get() < killed
                        || viaTurnout.outageMs(killed) < 0 || direct.outageMs(killed) < 0)
                        && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                viaTurnout.awaitCommits(100, 30_000);
                direct.awaitCommits(50, 30_000);
                long turnoutMs = viaTurnout.outageMs(killed);
                long directMs = direct.outageMs(killed);
                System.out.printf("backend_crash: direct_outage_ms=%d turnout_outage_ms=%d turnout_errors=%d"
                        + " direct_errors=%d%n", directMs, turnoutMs, viaTurnout.errors.size(), direct.errors.size());
                assertThat(directMs).as("the direct client saw the crash").isPositive();
                assertThat(turnoutMs).as("Turnout's outage against the direct one (" + directMs + " ms); first errors "
                        + viaTurnout.errors.stream().limit(5).toList()).isPositive().isLessThanOrEqualTo(directMs + 1000);
                assertThat(viaTurnout.errors.stream().filter(e -> e.contains("server_login_retry")).limit(3).toList())
                        .as("clients refused for server_login_retry").isEmpty();
            }
        }
    }
}
