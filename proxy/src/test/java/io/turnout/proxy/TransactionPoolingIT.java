package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** pgjdbc through Turnout in transaction mode: the everyday paths a Java monolith takes. */
class TransactionPoolingIT {
    static PgServer pg;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        pg.psql("app", "DROP TABLE IF EXISTS tp_items; CREATE TABLE tp_items (id int primary key, name text)");
        turnout = TurnoutFixture.builder(pg).set("default_pool_size", 10).start();
    }

    @AfterAll
    static void stop() {
        turnout.close();
    }

    @Test
    void autocommitQueriesAndUpdates() throws SQLException {
        try (Connection c = turnout.connect(); Statement s = c.createStatement()) {
            ResultSet rs = s.executeQuery("select 41 + 1, current_user, current_database()");
            assertThat(rs.next()).isTrue();
            assertThat(rs.getInt(1)).isEqualTo(42);
            assertThat(rs.getString(2)).isEqualTo("postgres");
            assertThat(rs.getString(3)).isEqualTo("app");
            assertThat(s.executeUpdate("insert into tp_items values (1, 'one') on conflict do nothing")).isBetween(0, 1);
            try (PreparedStatement ps = c.prepareStatement("select name from tp_items where id = ?")) {
                for (int i = 0; i < 10; i++) {
                    ps.setInt(1, 1);
                    try (ResultSet r = ps.executeQuery()) {
                        assertThat(r.next()).isTrue();
                        assertThat(r.getString(1)).isEqualTo("one");
                    }
                }
            }
        }
    }

    @Test
    void explicitTransactionsCommitAndRollback() throws SQLException {
        try (Connection c = turnout.connect(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.executeUpdate("insert into tp_items values (100, 'tx') on conflict (id) do update set name = 'tx'");
            ResultSet rs = s.executeQuery("select pg_backend_pid(), txid_current()");
            rs.next();
            int pid = rs.getInt(1);
            long xid = rs.getLong(2);
            rs = s.executeQuery("select pg_backend_pid(), txid_current()");
            rs.next();
            assertThat(rs.getInt(1)).as("a transaction stays on one server").isEqualTo(pid);
            assertThat(rs.getLong(2)).isEqualTo(xid);
            c.rollback();
            s.executeUpdate("insert into tp_items values (101, 'kept') on conflict do nothing");
            c.commit();
            c.setAutoCommit(true);
            rs = s.executeQuery("select count(*) from tp_items where id in (100, 101) and name in ('tx', 'kept')");
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(1);
        }
    }

    @Test
    void errorInsideTransactionKeepsServerUntilRollback() throws SQLException {
        try (Connection c = turnout.connect(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.execute("select 1");
            assertThatThrownBy(() -> s.execute("select * from no_such_table"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("42P01"));
            assertThatThrownBy(() -> s.execute("select 1"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("25P02"));
            c.rollback();
            ResultSet rs = s.executeQuery("select 7");
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(7);
            c.commit();
        }
    }

    @Test
    void batchesInAndOutOfTransactions() throws SQLException {
        try (Connection c = turnout.connect()) {
            c.createStatement().execute("delete from tp_items where id >= 1000");
            for (boolean autocommit : new boolean[] {true, false}) {
                c.setAutoCommit(autocommit);
                int base = autocommit ? 1000 : 2000;
                try (PreparedStatement ps = c.prepareStatement("insert into tp_items values (?, ?)")) {
                    for (int i = 0; i < 500; i++) {
                        ps.setInt(1, base + i);
                        ps.setString(2, "batch" + i);
                        ps.addBatch();
                    }
                    int[] counts = ps.executeBatch();
                    assertThat(counts).hasSize(500).containsOnly(1);
                }
                if (!autocommit) {
                    c.commit();
                }
            }
            c.setAutoCommit(true);
            ResultSet rs = c.createStatement().executeQuery("select count(*) from tp_items where id >= 1000");
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(1000);
        }
    }

    @Test
    void statementTimeoutFromStartupOptionsAndFromQueryTimeout() throws SQLException {
        Properties p = new Properties();
        p.setProperty("options", "-c statement_timeout=300");
        try (Connection c = turnout.connect(p); Statement s = c.createStatement()) {
            ResultSet rs = s.executeQuery("show statement_timeout");
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("300ms");
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> s.execute("select pg_sleep(5)"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("57014"));
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(3000);
        }
        try (Connection c = turnout.connect(); Statement s = c.createStatement()) {
            s.setQueryTimeout(1); // pgjdbc cancels through a CancelRequest after 1 s
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> s.execute("select pg_sleep(10)"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("57014"));
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(4000);
            s.setQueryTimeout(0);
            ResultSet rs = s.executeQuery("show statement_timeout");
            rs.next();
            assertThat(rs.getString(1)).as("the other client's option did not leak").isEqualTo("0");
        }
    }

    @Test
    void statementCancelEndsSleepWithin1s() throws Exception {
        try (Connection c = turnout.connect(); Statement s = c.createStatement()) {
            ExecutorService ex = Executors.newSingleThreadExecutor();
            try {
                Future<Long> f = ex.submit(() -> {
                    long t0 = System.nanoTime();
                    try {
                        s.execute("select pg_sleep(10)");
                        return -1L;
                    } catch (SQLException e) {
                        assertThat(e.getSQLState()).isEqualTo("57014");
                        return System.nanoTime();
                    }
                });
                Thread.sleep(500);
                long cancelAt = System.nanoTime();
                s.cancel();
                long endedAt = f.get(5, TimeUnit.SECONDS);
                assertThat(endedAt).isPositive();
                assertThat(TimeUnit.NANOSECONDS.toMillis(endedAt - cancelAt)).isLessThan(1000);
            } finally {
                ex.shutdownNow();
            }
            ResultSet rs = s.executeQuery("select 1");
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(1);
        }
    }

    @Test
    void cancelWhileIdleIsIgnored() throws Exception {
        try (Connection c = turnout.connect(); Statement s = c.createStatement()) {
            s.cancel();
            Thread.sleep(200);
            ResultSet rs = s.executeQuery("select 5");
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(5);
        }
    }

    /**
     * 200 clients share 10 servers; each has its own TimeZone and application_name from its startup
     * packet, and sees exactly those inside every transaction whatever server it lands on.
     */
    @Test
    void twoHundredClientsOnTenServersEachSeeTheirOwnSettings() throws Exception {
        String[] zones = {"UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney"};
        int clients = 200;
        ExecutorService ex = Executors.newFixedThreadPool(clients);
        Set<Integer> backendPids = ConcurrentHashMap.newKeySet();
        // The invariant is at most 10 server connections at any moment (a slot may move between event
        // loops, which opens a new backend), so watch pg_stat_activity while the clients run.
        java.util.concurrent.atomic.AtomicInteger maxServers = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean watching = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread watcher = new Thread(() -> {
            try (Connection direct = pg.connect("postgres", "postgres", "app")) {
                while (watching.get()) {
                    ResultSet rs = direct.createStatement().executeQuery("select count(*) from pg_stat_activity "
                            + "where datname = 'app' and application_name like 'client-%'");
                    rs.next();
                    maxServers.accumulateAndGet(rs.getInt(1), Math::max);
                    Thread.sleep(20);
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        watcher.start();
        CountDownLatch allConnected = new CountDownLatch(clients);
        List<Future<Integer>> results = new ArrayList<>();
        try {
            for (int i = 0; i < clients; i++) {
                int n = i;
                results.add(ex.submit(() -> {
                    Properties p = new Properties();
                    String zone = zones[n % zones.length];
                    p.setProperty("ApplicationName", "client-" + n);
                    p.setProperty("options", "-c TimeZone=" + zone);
                    int checks = 0;
                    try (Connection c = turnout.connect(p)) {
                        allConnected.countDown();
                        allConnected.await(30, TimeUnit.SECONDS);
                        c.setAutoCommit(n % 2 == 0);
                        for (int k = 0; k < 10; k++) {
                            try (Statement s = c.createStatement();
                                 ResultSet rs = s.executeQuery("select current_setting('TimeZone'), "
                                         + "current_setting('application_name'), pg_backend_pid(), pg_sleep(0.001)")) {
                                rs.next();
                                assertThat(rs.getString(1)).isEqualTo(zone);
                                assertThat(rs.getString(2)).isEqualTo("client-" + n);
                                backendPids.add(rs.getInt(3));
                                checks++;
                            }
                            if (n % 2 != 0) {
                                c.commit();
                            }
                        }
                    }
                    return checks;
                }));
            }
            int total = 0;
            for (Future<Integer> f : results) {
                total += f.get(120, TimeUnit.SECONDS);
            }
            assertThat(total).isEqualTo(clients * 10);
            assertThat(backendPids).as("servers were shared").hasSizeLessThan(clients / 4);
        } finally {
            ex.shutdownNow();
            watching.set(false);
            watcher.join(5000);
        }
        assertThat(maxServers.get()).as("server connections at once").isBetween(1, 10);
    }

    @Test
    void clientSetOfReportedParameterFollowsItAcrossServers() throws SQLException {
        try (Connection a = turnout.connect(); Connection b = turnout.connect()) {
            a.createStatement().execute("set application_name = 'changed-by-a'");
            for (int i = 0; i < 20; i++) {
                ResultSet ra = a.createStatement().executeQuery("select current_setting('application_name')");
                ra.next();
                assertThat(ra.getString(1)).isEqualTo("changed-by-a");
                ResultSet rb = b.createStatement().executeQuery("select current_setting('application_name')");
                rb.next();
                assertThat(rb.getString(1)).isNotEqualTo("changed-by-a");
            }
        }
    }
}
