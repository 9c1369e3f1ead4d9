package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.protocol.testing.LeakCheck;
import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.RawClient;
import static io.turnout.proxy.testing.RawClient.bind;
import static io.turnout.proxy.testing.RawClient.cat;
import static io.turnout.proxy.testing.RawClient.execute;
import static io.turnout.proxy.testing.RawClient.parse;
import static io.turnout.proxy.testing.RawClient.sync;
import io.turnout.proxy.testing.TurnoutFixture;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Regressions for bugs a review of the core found: each test failed before its fix. Scenarios are driven
 * byte by byte where no driver would misbehave on purpose.
 */
class RobustnessIT {
    static PgServer pg;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        pg.psql("app", "DROP TABLE IF EXISTS rv_t; CREATE TABLE rv_t (id int); GRANT ALL ON rv_t TO PUBLIC;"
                + "DROP TABLE IF EXISTS rv_copy; CREATE TABLE rv_copy (id int); GRANT ALL ON rv_copy TO PUBLIC");
    }

    private static TurnoutFixture trust(int workers, int poolSize) {
        return TurnoutFixture.builder(pg).set("auth_type", "trust").set("workers", workers)
                .set("default_pool_size", poolSize).start();
    }

    private static RawClient login(TurnoutFixture t) throws Exception {
        RawClient c = new RawClient(t.port());
        c.send(RawClient.startup("user", "alice", "database", "app"));
        c.readUntilReady();
        return c;
    }

    /** Simple query with a timeout: null when it timed out, else its error SQLSTATE or "ok". */
    static String tryQuery(RawClient c, String sql, int timeoutMs) throws Exception {
        c.setTimeoutMillis(timeoutMs);
        c.send(RawClient.query(sql));
        try {
            String e = c.readUntilReady();
            return e == null ? "ok" : e;
        } catch (SocketTimeoutException e) {
            return null;
        }
    }

    /** Client leaves with a CopyData frame half forwarded after its last ReadyForQuery. */
    @Test
    void halfForwardedFrameAtDisconnectPoisonsServer() throws Exception {
        try (TurnoutFixture t = trust(1, 1)) {
            try (RawClient a = login(t)) {
                assertThat(tryQuery(a, "select 1", 5000)).isEqualTo("ok");
                // a CopyData header claiming 100000 bytes, and only 10 of them
                byte[] head = new byte[] {'d', 0, 1, (byte) 0x86, (byte) 0xa4};
                a.send(cat(RawClient.query("select 2"), head, new byte[10]));
                assertThat(a.readUntilReady()).isNull();
                Thread.sleep(200);
            }
            Thread.sleep(300);
            try (RawClient b = login(t)) {
                String r = tryQuery(b, "select 3", 5000);
                assertThat(r).as("next client's query").isEqualTo("ok");
            }
        }
    }

    /** libpq's PQexecParams("COPY ... FROM STDIN"): Sync after Execute (ignored by PG in copy-in), Sync after CopyDone. */
    @Test
    void extendedCopyInPinsServer() throws Exception {
        try (TurnoutFixture t = trust(1, 1)) {
            try (RawClient a = login(t)) {
                a.send(cat(parse("", "copy rv_copy from stdin"), bind(""), execute(), sync()));
                RawClient.Message m = a.read();
                while (m.type() != 'G') {
                    m = a.read();
                }
                a.send(cat(RawClient.message('d', "1\n".getBytes(StandardCharsets.UTF_8)),
                        RawClient.message('c', new byte[0]), sync()));
                assertThat(a.readUntilReady()).isNull();
                // A is idle now (RFQ 'I', nothing outstanding from PG's point of view)
                try (RawClient b = login(t)) {
                    String r = tryQuery(b, "select 1", 3000);
                    assertThat(r).as("the single server is free again").isEqualTo("ok");
                }
            }
        }
    }

    /** A query followed by Terminate in the same packet: PostgreSQL would run it to completion. */
    @Test
    void terminateAfterQueryCancelsIt() throws Exception {
        pg.psql("app", "truncate rv_t");
        try (TurnoutFixture t = trust(1, 2)) {
            try (RawClient warm = login(t)) {
                tryQuery(warm, "select 1", 5000); // an idle server exists
            }
            try (RawClient a = login(t)) {
                a.send(cat(RawClient.query("insert into rv_t select 1 from pg_sleep(0.5)"),
                        RawClient.message('X', new byte[0])));
                a.closedByServer();
            }
            Thread.sleep(1500);
            String n = pg.psql("app", "select count(*) from rv_t").trim();
            assertThat(n).isEqualTo("1");
        }
    }

    /**
     * A query and Terminate sent while queued (PAUSE): the client is gone, its query stays queued to run when a
     * server comes, as PostgreSQL would have run it. Turnout closing first must free those bytes.
     */
    @Test
    void aQueryLeftQueuedByAClientThatTerminatedIsFreedWhenTurnoutCloses() throws Exception {
        int leaksBefore = LeakCheck.reportedSoFar();
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("auth_type", "trust").set("default_pool_size", 1)
                .set("admin_users", "admin").user("admin", "admin_pw").start();
             AdminClient admin = new AdminClient(t, "admin", "admin_pw")) {
            try (RawClient a = login(t)) { // logged in first: a login waits out PAUSE too
                assertThat(tryQuery(a, "select 1", 5000)).isEqualTo("ok");
                admin.execute("PAUSE");
                a.send(cat(RawClient.query("insert into rv_t values (4242)"), RawClient.message('X', new byte[0])));
                assertThat(a.closedByServer()).isTrue();
            }
        }
        assertThat(LeakCheck.reportedSoFar() - leaksBefore).as("leaked buffers").isZero();
        assertThat(pg.psql("app", "select count(*) from rv_t where id = 4242").trim()).as("never ran").isEqualTo("0");
    }

    /** pool_size 2 on 2 loops; one loop starts out holding both slots, both loops keep clients waiting. */
    @Test
    void slotMoveChurnsAndStarves() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("workers", 2).set("default_pool_size", 2).start()) {
            List<Connection> cs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                cs.add(t.connect());
            }
            // c0 and c2 share a loop (children are assigned round robin): both slots go to that loop
            cs.get(0).setAutoCommit(false);
            cs.get(2).setAutoCommit(false);
            cs.get(0).createStatement().execute("select 1");
            cs.get(2).createStatement().execute("select 1");
            cs.get(0).commit();
            cs.get(2).commit();
            cs.get(0).setAutoCommit(true);
            cs.get(2).setAutoCommit(true);
            long sessions0 = Long.parseLong(pg.psql("app", "select sessions from pg_stat_database where datname = 'app'").trim());
            AtomicBoolean run = new AtomicBoolean(true);
            AtomicInteger[] done = new AtomicInteger[8];
            Set<Integer> pids = ConcurrentHashMap.newKeySet();
            ExecutorService ex = Executors.newFixedThreadPool(8);
            List<Future<?>> fs = new ArrayList<>();
            int[] active = {0, 2, 4, 6, 1, 3};
            for (int i : active) {
                done[i] = new AtomicInteger();
                Connection c = cs.get(i);
                fs.add(ex.submit(() -> {
                    while (run.get()) {
                        try (Statement s = c.createStatement();
                             ResultSet rs = s.executeQuery("select pg_backend_pid(), pg_sleep(0.002)")) {
                            rs.next();
                            pids.add(rs.getInt(1));
                            done[i].incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            Thread.sleep(4000);
            run.set(false);
            StringBuilder sb = new StringBuilder();
            for (Future<?> f : fs) {
                try {
                    f.get(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                    sb.append(" err=").append(e.getCause());
                }
            }
            ex.shutdownNow();
            long sessions1 = Long.parseLong(pg.psql("app", "select sessions from pg_stat_database where datname = 'app'").trim());
            for (int i : active) {
                sb.append(" c").append(i).append('=').append(done[i].get());
            }
            for (Connection c : cs) {
                c.close();
            }
            assertThat(pids.size()).as("server logins with pool_size 2").isLessThan(10);
        }
    }

    /** A role limited to one connection: a second login fails while the first server works fine. */
    @Test
    void oneFailedLoginRefusesClientsThatCouldWait() throws Exception {
        pg.psql("app", "DROP ROLE IF EXISTS rv_lim; CREATE ROLE rv_lim LOGIN PASSWORD 'lim_pw' CONNECTION LIMIT 1");
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("workers", 1).set("default_pool_size", 2)
                .database("lim", "dbname: app, user: rv_lim, password: lim_pw").start()) {
            try (Connection a = t.connect("alice", "alice_pw", "lim", new Properties());
                 Connection b = t.connect("alice", "alice_pw", "lim", new Properties())) {
                a.setAutoCommit(false);
                a.createStatement().execute("select 1"); // holds the only server PG allows
                ExecutorService ex = Executors.newSingleThreadExecutor();
                Future<String> fb = ex.submit(() -> {
                    try (Statement s = b.createStatement(); ResultSet rs = s.executeQuery("select 42")) {
                        rs.next();
                        return "ok " + rs.getInt(1);
                    } catch (SQLException e) {
                        return "error " + e.getSQLState() + " " + e.getMessage();
                    }
                });
                Thread.sleep(1000);
                a.commit(); // the server is free: b could have it
                String r = fb.get(10, TimeUnit.SECONDS);
                ex.shutdownNow();
                assertThat(r).startsWith("ok");
            }
        } finally {
            pg.psql("app", "DROP ROLE IF EXISTS rv_lim");
        }
    }

    /** A superuser pool; one client does session-level SET ROLE; the next client of that server is killed. */
    @Test
    void reportedInternalParameterKillsNextClient() throws Exception {
        try (TurnoutFixture t = trust(1, 1)) {
            try (RawClient a = login(t)) {
                assertThat(tryQuery(a, "set role app_scram", 5000)).isEqualTo("ok");
            }
            Thread.sleep(300);
            try (RawClient b = login(t)) {
                String r = tryQuery(b, "select 1", 5000);
                assertThat(r).isEqualTo("ok");
            } catch (java.io.EOFException e) {
                throw e;
            }
        }
    }

    /** An unauthenticated client streams a password message of any size: PostgreSQL caps it at 64 KiB. */
    @Test
    void preAuthPasswordMessageIsBounded() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("workers", 1).start();
             RawClient c = new RawClient(t.port())) {
            c.send(RawClient.startup("user", "alice", "database", "app"));
            RawClient.Message m = c.read(); // AuthenticationSASL
            assertThat(m.type()).isEqualTo('R');
            try (Connection other = t.connect(); Statement s = other.createStatement()) {
                c.send(new byte[] {'p', 0x3f, (byte) 0xff, (byte) 0xff, (byte) 0xff}); // ~1 GiB announced
                RawClient.Message error = c.readError();
                assertThat(error.field('C')).isEqualTo("08P01");
                assertThat(error.field('M')).contains("during authentication");
                assertThat(c.closedByServer()).isTrue();
                long q0 = System.nanoTime();
                s.execute("select 1");
                assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - q0)).as("the loop was not stalled")
                        .isLessThan(2000);
            }
        }
    }

    /** pgjdbc currentSchema / options search_path with two schemas, as PostgreSQL accepts at startup. */
    @Test
    void startupSearchPathListBecomesOneQuotedSchema() throws Exception {
        pg.psql("app", "DROP SCHEMA IF EXISTS rv_s CASCADE; CREATE SCHEMA rv_s; GRANT USAGE ON SCHEMA rv_s TO PUBLIC;"
                + "CREATE TABLE rv_s.rv_only (x int); GRANT ALL ON rv_s.rv_only TO PUBLIC");
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("workers", 1).start()) {
            Properties p = new Properties();
            p.setProperty("options", "-c search_path=rv_s,public");
            try (Connection c = t.connect(p); Statement s = c.createStatement()) {
                ResultSet rs = s.executeQuery("show search_path");
                rs.next();
                String viaTurnout = rs.getString(1);
                Properties direct = new Properties();
                direct.setProperty("user", "postgres");
                direct.setProperty("password", "postgres");
                direct.setProperty("options", "-c search_path=rv_s,public");
                try (Connection d = java.sql.DriverManager.getConnection(pg.jdbcUrl("app"), direct)) {
                    ResultSet rd = d.createStatement().executeQuery("show search_path");
                    rd.next();
                    assertThat(viaTurnout).as("as PostgreSQL sets it from the same startup option").isEqualTo(rd.getString(1));
                }
                rs = s.executeQuery("select count(*) from rv_only"); // unqualified: found in rv_s
                rs.next();
                assertThat(rs.getInt(1)).isZero();
            }
        }
    }

    /** A cancels its own short queries; B never cancels anything, on the same single server. */
    @Test
    void cancelLandsOnAnotherClientsQuery() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("workers", 1).set("default_pool_size", 1).start();
             Connection a = t.connect(); Connection b = t.connect()) {
            AtomicBoolean run = new AtomicBoolean(true);
            AtomicInteger aCancelled = new AtomicInteger();
            AtomicInteger bCancelled = new AtomicInteger();
            AtomicInteger bDone = new AtomicInteger();
            Statement sa = a.createStatement();
            Thread ta = new Thread(() -> {
                while (run.get()) {
                    try {
                        sa.execute("select pg_sleep(0.004)");
                    } catch (SQLException e) {
                        aCancelled.incrementAndGet();
                    }
                }
            });
            Thread canceller = new Thread(() -> {
                while (run.get()) {
                    try {
                        sa.cancel();
                        Thread.sleep(0, 500_000);
                    } catch (Exception e) {
                        // ignore
                    }
                }
            });
            Thread tb = new Thread(() -> {
                try (Statement sb = b.createStatement()) {
                    while (run.get()) {
                        try {
                            sb.execute("select pg_sleep(0.004)");
                            bDone.incrementAndGet();
                        } catch (SQLException e) {
                            if ("57014".equals(e.getSQLState())) {
                                bCancelled.incrementAndGet();
                            }
                        }
                    }
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            ta.start();
            tb.start();
            canceller.start();
            Thread.sleep(8000);
            run.set(false);
            ta.join(10000);
            tb.join(10000);
            canceller.join(10000);
            assertThat(bCancelled.get()).isZero();
        }
    }

    /** min_pool_size on a failing backend: the janitor respects server_login_retry. */
    @Test
    void janitorRespectsLoginRetry() throws Exception {
        AtomicInteger attempts = new AtomicInteger();
        try (java.net.ServerSocket hangUp = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                while (!hangUp.isClosed()) {
                    try (java.net.Socket s = hangUp.accept()) {
                        attempts.incrementAndGet(); // accept and hang up: a failed server login
                    } catch (java.io.IOException e) {
                        return;
                    }
                }
            });
            acceptor.start();
            try (TurnoutFixture t = TurnoutFixture.builder(pg).set("workers", 1)
                    .rawDatabase("dead", "host: 127.0.0.1, port: " + hangUp.getLocalPort()
                            + ", dbname: app, user: postgres, password: postgres, min_pool_size: 1")
                    .start()) {
                try (Connection c = t.connect("alice", "alice_pw", "dead", new Properties())) {
                    throw new AssertionError("the backend hangs up, no login can succeed");
                } catch (SQLException expected) {
                    assertThat(expected.getSQLState()).isEqualTo("08006");
                }
                int before = attempts.get();
                Thread.sleep(2000);
                assertThat(attempts.get() - before).as("logins retried within server_login_retry (15 s)").isZero();
            }
        }
    }
}
