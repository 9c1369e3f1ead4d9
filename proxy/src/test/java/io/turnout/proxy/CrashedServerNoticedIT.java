package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.Await;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A crashed backend (kill -9: the postmaster ends every other backend with SIGQUIT, each writing its 57P02
 * FATAL as it dies) must be noticed by Turnout on every server connection, whatever the transport: each
 * client's transaction then fails or commits, none waits forever on a dead server connection (DiskFullIT's
 * pg_wal PANIC left one such client under io_uring).
 */
class CrashedServerNoticedIT {
    private static final int CLIENTS = 8;
    PgServer pg;
    TurnoutFixture turnout;

    @AfterEach
    void stop() {
        if (turnout != null) {
            turnout.close();
        }
        if (pg != null) {
            pg.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "io_uring"})
    void everyClientHearsOfTheCrash(String transport) throws Exception {
        pg = PgServer.start();
        pg.psql("app", "CREATE TABLE crash_t (id bigserial primary key, w int); GRANT ALL ON crash_t TO PUBLIC;"
                + "GRANT ALL ON SEQUENCE crash_t_id_seq TO PUBLIC");
        turnout = TurnoutFixture.builder(pg).set("default_pool_size", CLIENTS).set("server_login_retry", 1)
                .set("transport", transport).start();
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLongArray progress = new AtomicLongArray(CLIENTS); // nanoTime of each worker's last commit or error
        List<Thread> workers = new ArrayList<>();
        for (int w = 0; w < CLIENTS; w++) {
            int worker = w;
            Thread t = new Thread(() -> work(worker, running, progress), "crash-client-" + w);
            t.setDaemon(true);
            t.start();
            workers.add(t);
        }
        try {
            for (int round = 0; round < 5; round++) {
                long before = System.nanoTime();
                awaitEveryWorker(progress, before, "before crash " + round);
                try (Connection direct = Await.value("PostgreSQL to accept a direct connection", Duration.ofSeconds(60),
                        Duration.ofMillis(50), this::directConnection, () -> pg.logTail(20))) {
                    long pid = backendPid(direct);
                    long killed = System.nanoTime();
                    assertThat(ProcessHandle.of(pid).orElseThrow().destroyForcibly()).isTrue(); // SIGKILL
                    awaitEveryWorker(progress, killed, "after crash " + round);
                }
            }
        } finally {
            running.set(false);
        }
        for (Thread t : workers) {
            t.join(30_000);
            assertThat(t.isAlive()).as(t.getName() + " stopped").isFalse();
        }
    }

    /** Every worker commits or fails after {@code since}: none is stuck on a server connection that died. */
    private void awaitEveryWorker(AtomicLongArray progress, long since, String when) {
        Await.until("every client to commit or fail " + when, Duration.ofSeconds(60), Duration.ofMillis(10), () -> {
            for (int i = 0; i < CLIENTS; i++) {
                if (progress.get(i) - since < 0) {
                    return false;
                }
            }
            return true;
        }, () -> stuck(progress, since) + "\n" + turnout.dir() + "\n" + pg.logTail(20));
    }

    /** A direct connection to PostgreSQL, or null while it refuses logins (crash recovery). */
    private Connection directConnection() {
        try {
            return pg.connect("postgres", "postgres", "app");
        } catch (SQLException e) {
            return null;
        }
    }

    private static long backendPid(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select pg_backend_pid()")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String stuck(AtomicLongArray progress, long since) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            if (progress.get(i) - since < 0) {
                out.add(i);
            }
        }
        return "stuck workers " + out;
    }

    private static void pause() {
        try {
            Thread.sleep(10); // an application's pause before it reconnects
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void work(int worker, AtomicBoolean running, AtomicLongArray progress) {
        Connection c = null;
        while (running.get()) {
            try {
                if (c == null) {
                    c = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "app", new Properties());
                    c.setAutoCommit(false);
                }
                try (Statement st = c.createStatement()) {
                    st.executeUpdate("insert into crash_t (w) values (" + worker + ")");
                }
                c.commit();
            } catch (SQLException e) {
                try {
                    if (c != null) {
                        c.close();
                    }
                } catch (SQLException ignored) {
                    // broken already
                }
                c = null;
                pause();
            }
            progress.set(worker, System.nanoTime());
        }
        try {
            if (c != null) {
                c.close();
            }
        } catch (SQLException ignored) {
            // closing anyway
        }
    }
}
