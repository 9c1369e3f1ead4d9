package io.turnout.proxy;

import static io.turnout.proxy.testing.FaultFigures.errorOf;
import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.Await;
import io.turnout.proxy.testing.FaultFigures;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.ShardLoad;
import io.turnout.proxy.testing.TmpfsMount;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL's disk filling up under load through Turnout, on small tmpfs mounts of the test's own that a
 * filler file fills (as another program would) and the test frees again. Four other clients commit meanwhile
 * through the same pool, to tables elsewhere, whose every error is counted. Each case prints a {@code fault:}
 * line (see README, Reliability). One private server for the class.
 */
class DiskFullIT {
    private static final int OTHERS = 4;

    static PgServer pg;
    static TmpfsMount tablespace;
    static TmpfsMount wal;
    TurnoutFixture turnout;

    @BeforeAll
    static void server() {
        pg = PgServer.start();
        pg.psql("app", ShardLoad.TABLE + ";\nCREATE TABLE walfill (pad text);\nGRANT ALL ON walfill TO PUBLIC");
        // room for the segments PostgreSQL keeps (min_wal_size 80 MB) and what the first case writes
        wal = TmpfsMount.create(160);
        pg.moveWalTo(wal.newDirectory("pg_wal"));
        tablespace = TmpfsMount.create(16);
        Path location = tablespace.newDirectory("ts");
        pg.psql("app", "CREATE TABLESPACE tiny LOCATION '" + location + "';\n"
                + "CREATE TABLE big (id bigserial, pad text) TABLESPACE tiny;\n"
                + "GRANT ALL ON big, big_id_seq TO PUBLIC");
    }

    @AfterAll
    static void stopServer() throws Exception {
        try {
            if (pg != null) {
                pg.close();
            }
        } finally {
            FaultFigures.closeAll(tablespace, wal);
        }
    }

    @AfterEach
    void stop() throws Exception {
        FaultFigures.closeAll(turnout);
        turnout = null;
    }

    private int finish(FaultFigures figures) throws Exception {
        stop();
        return figures.print();
    }

    /**
     * The file system of a tablespace fills: the client whose insert needs a new block gets PostgreSQL's
     * {@code 53100} "could not extend file ...: No space left on device" inside its transaction, which it rolls
     * back; its server stays healthy and pooled, nobody else sees an error, and its retry works once the space is
     * freed.
     */
    @Test
    void tablespaceFullRefusesTheWrite() throws Exception {
        FaultFigures fig = FaultFigures.begin("disk_full_tablespace_53100");
        turnout = TurnoutFixture.builder(pg).set("default_pool_size", 6).start();
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS); Connection victim = turnout.connect()) {
            others.awaitCommits(100);
            tablespace.fill(2 * 1024 * 1024);
            victim.setAutoCommit(false);
            long t0 = System.nanoTime();
            SQLException e = errorOf(() -> {
                for (int i = 0; i < 100; i++) { // 1 MB a statement: a few fill the 2 MB left
                    insert(victim, 1000);
                }
            });
            fig.faultedSaw(e).detected(t0, System.nanoTime());
            assertThat(e.getSQLState()).as(e.getMessage()).isEqualTo("53100");
            assertThat(e.getMessage()).contains("could not extend file").contains("No space left on device");
            victim.rollback();
            others.awaitCommits(100);
            tablespace.freeFiller();
            long freed = System.nanoTime();
            insert(victim, 1000); // the same client, its next transaction
            victim.commit();
            fig.recovered(freed, System.nanoTime());
            fig.othersUnaffected(others, "clients writing elsewhere through the same pool");
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
    }

    /**
     * pg_wal's file system fills. A WAL write cannot fail half-way, so the process that needs a new segment
     * PANICs ({@code 53100} "could not write to file "pg_wal/xlogtemp...": No space left on device"), the
     * postmaster ends every backend and runs crash recovery. Every transaction running then is lost (the
     * writer's own, the others' in flight: 08006 or 57P02 through Turnout); transactions begun later wait while
     * Turnout retries the login and commit once PostgreSQL is back, after the space is freed.
     */
    @Test
    void walFullPanicsTheServer() throws Exception {
        FaultFigures fig = FaultFigures.begin("disk_full_pg_wal_panic");
        // io_uring: with Netty's multishot POLL_ADD a client was left linked to a server connection whose backend
        // died in this crash, in two runs of three (Transports.POLL_ADD_MULTISHOT, now off: it passes here)
        turnout = TurnoutFixture.builder(pg).set("default_pool_size", 6).set("server_login_retry", 30)
                .set("transport", "io_uring").start();
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS); Connection victim = turnout.connect()) {
            others.awaitCommits(100);
            pg.psql("postgres", "CHECKPOINT"); // recycles what it can, so the filler decides when WAL runs out
            wal.fill(4 * 1024 * 1024);
            victim.setAutoCommit(false);
            long t0 = System.nanoTime();
            SQLException e = errorOf(() -> {
                for (int i = 0; i < 1000; i++) { // about 1 MB of WAL a statement
                    try (Statement st = victim.createStatement()) {
                        st.executeUpdate("insert into walfill select repeat('x', 1000) from generate_series(1, 1000)");
                    }
                }
            });
            long seen = System.nanoTime();
            fig.faultedSaw(e).detected(t0, seen);
            assertThat(walPanic(e.getSQLState() + " " + e.getMessage())
                    || FaultFigures.lostMidTransaction(e.getSQLState() + " " + e.getMessage()))
                    .as(e.getSQLState() + " " + e.getMessage()).isTrue();
            String panic = pg.logTail(400).lines().filter(l -> l.contains("PANIC:")).findFirst().orElse("");
            assertThat(panic).as("the server log's PANIC").contains("No space left on device");
            // crash recovery ends with a WAL record too, which needs the next segment: on this machine its
            // startup process fails and the postmaster shuts down, waiting for an operator (or Patroni)
            boolean stopped = Await.value("PostgreSQL to stop, or to recover by itself", Duration.ofSeconds(120),
                    Await.POLL, () -> !pg.isRunning() ? Boolean.TRUE : accepting() ? Boolean.FALSE : null,
                    () -> pg.logTail(30));
            long down = System.nanoTime();
            wal.freeFiller();
            if (stopped) {
                assertThat(pg.logTail(30)).contains("shutting down due to startup process failure");
                pg.restart(); // returns once it accepts connections
            }
            long up = System.nanoTime();
            long firstCommit = others.firstCommitOn(pg.port(), up);
            assertThat(firstCommit).as("a commit after the space was freed; failures " + others.failures).isPositive();
            others.awaitCommits(100); // the pool refilled
            List<String> errors = others.failures.stream().map(ShardLoad.Failure::error).toList();
            List<String> outside = errors.stream().filter(x -> !walPanic(x) && !FaultFigures.lostMidTransaction(x))
                    .toList();
            fig.othersErrors(outside.size()).othersInflightFailed(errors.size() - outside.size())
                    .recovered(up, firstCommit);
            System.out.printf("fault: case=disk_full_pg_wal_panic stopped=%b outage_ms=%d (error to stop %d, restart %d)"
                    + " others_saw=%s panic=\"%s\"%n", stopped, ms(firstCommit - seen), ms(down - seen), ms(up - down),
                    errors.stream().distinct().toList(), panic.replace('"', '\''));
            assertThat(outside).as("errors other than a transaction lost to the PANIC").isEmpty();
            assertThat(others.failuresBeganAfter(down)).as("transactions begun while PostgreSQL was down failed")
                    .isZero();
            System.out.println("activity after recovery:\n" + pg.psql("postgres", "select pid, backend_start, state,"
                    + " wait_event_type, wait_event, left(query, 60) from pg_stat_activity where backend_type = 'client backend'"));
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
    }

    /** Whether PostgreSQL accepts a query (psql over the unix socket). */
    private static boolean accepting() {
        try {
            return pg.psql("postgres", "select 1").equals("1");
        } catch (AssertionError e) {
            return false;
        }
    }

    private static long ms(long nanos) {
        return nanos / 1_000_000;
    }

    /** The PANIC itself, forwarded to the client whose backend hit the full disk. */
    private static boolean walPanic(String error) {
        return error.startsWith("53100 ") && error.contains("No space left on device");
    }

    private static void insert(Connection c, int rows) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.executeUpdate("insert into big (pad) select repeat('x', 1000) from generate_series(1, " + rows + ")");
        }
    }
}
