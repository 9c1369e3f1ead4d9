package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** PAUSE/RESUME, RELOAD, SET, RECONNECT/WAIT_CLOSE, KILL_CLIENT, DISABLE/ENABLE under real load. */
class AdminControlIT {
    static PgServer pg;
    TurnoutFixture turnout;

    @BeforeAll
    static void startPg() {
        pg = PgServer.shared();
        pg.psql("app", "DROP TABLE IF EXISTS ac_log; CREATE TABLE ac_log (id bigserial primary key, worker int)");
        pg.createDatabase("app2");
    }

    @BeforeEach
    void start() {
        turnout = builder().start();
    }

    static TurnoutFixture.Builder builder() {
        return TurnoutFixture.builder(pg)
                .set("default_pool_size", 6)
                .set("admin_users", "admin")
                .user("admin", "admin_pw");
    }

    @AfterEach
    void stop() {
        turnout.close();
    }

    /** Workers running short write transactions until stopped; every error is kept. */
    final class Load implements AutoCloseable {
        final AtomicBoolean running = new AtomicBoolean(true);
        final AtomicLong commits = new AtomicLong();
        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        final ExecutorService pool;

        Load(int workers, String db) {
            pool = Executors.newFixedThreadPool(workers);
            for (int w = 0; w < workers; w++) {
                int worker = w;
                pool.submit(() -> {
                    try (Connection c = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, db, new Properties())) {
                        c.setAutoCommit(false);
                        while (running.get()) {
                            try (Statement s = c.createStatement()) {
                                s.execute("select pg_sleep(0.005)");
                                s.execute("select " + worker);
                                c.commit();
                                commits.incrementAndGet();
                            }
                        }
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                    return null;
                });
            }
        }

        void awaitCommits(long more) throws InterruptedException {
            long target = commits.get() + more;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (commits.get() < target && System.nanoTime() < deadline && errors.isEmpty()) {
                Thread.sleep(10);
            }
            assertThat(errors).isEmpty();
            assertThat(commits.get()).as("load progresses").isGreaterThanOrEqualTo(target);
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            pool.shutdown();
            assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void pauseWaitsForTransactionsInFlightAndResumeContinuesWithoutErrors() throws Exception {
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw"); Load load = new Load(12, "app");
             Connection holder = turnout.connect()) {
            load.awaitCommits(100);
            holder.setAutoCommit(false);
            holder.createStatement().execute("insert into ac_log (worker) values (-1)"); // a transaction stays open
            CompletableFuture<Void> pause = CompletableFuture.runAsync(() -> {
                try {
                    admin.execute("PAUSE");
                } catch (SQLException e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(500);
            assertThat(pause).as("PAUSE returns only after the open transaction ends").isNotDone();
            long during = load.commits.get();
            holder.commit();
            pause.get(10, TimeUnit.SECONDS);
            try (AdminClient other = new AdminClient(turnout, "admin", "admin_pw")) {
                Map<String, String> pool = other.query("SHOW POOLS").only("database", "app");
                assertThat(pool.get("sv_active")).isEqualTo("0");
                assertThat(other.query("SHOW STATE").only("key", "paused").get("value")).isEqualTo("yes");
                long paused = load.commits.get();
                Thread.sleep(300);
                assertThat(load.commits.get()).as("no transaction runs while paused").isEqualTo(paused);
                assertThat(paused).isGreaterThanOrEqualTo(during);
                other.execute("RESUME");
            }
            load.awaitCommits(100);
            assertThat(load.errors).isEmpty();
        }
    }

    @Test
    void reloadChangesPoolSizeAndAddsADatabaseUnderLoad() throws Exception {
        Path file = turnout.dir().resolve("turnout.yaml");
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw"); Load load = new Load(10, "app")) {
            load.awaitCommits(50);
            String yaml = Files.readString(file);
            Files.writeString(file, yaml.replace("default_pool_size: 6", "default_pool_size: 3")
                    + "  app2: { host: " + pg.host() + ", port: " + pg.port()
                    + ", dbname: app2, user: postgres, password: postgres }\n");
            admin.execute("RELOAD");
            Map<String, String> db = admin.query("SHOW DATABASES").only("name", "app");
            assertThat(db.get("pool_size")).isEqualTo("3");
            assertThat(admin.query("SHOW CONFIG").only("key", "default_pool_size").get("value")).isEqualTo("3");
            assertThat(admin.query("SHOW DATABASES").where("name", "app2")).hasSize(1);
            try (Load second = new Load(4, "app2")) {
                second.awaitCommits(20);
            }
            load.awaitCommits(100);
            // the pool shrinks to its new size as servers come back
            AdminConsoleIT.awaitRow(admin, "SHOW POOLS",
                    r -> Integer.parseInt(r.get("sv_active")) + Integer.parseInt(r.get("sv_idle")) <= 3);

            Files.writeString(file, Files.readString(file).replace("default_pool_size: 3", "default_pool_size: many"));
            assertThatThrownBy(() -> admin.execute("RELOAD")).isInstanceOf(SQLException.class)
                    .hasMessageContaining("default_pool_size").hasMessageContaining("keeping the running configuration");
            assertThat(admin.query("SHOW CONFIG").only("key", "default_pool_size").get("value")).isEqualTo("3");
            load.awaitCommits(50);
            assertThat(load.errors).isEmpty();
        }
    }

    @Test
    void setChangesASettingAndRejectsBadValues() throws Exception {
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            admin.execute("SET query_wait_timeout = 7");
            assertThat(admin.query("SHOW CONFIG").only("key", "query_wait_timeout").get("value")).isEqualTo("7");
            assertThatThrownBy(() -> admin.execute("SET default_pool_size = -4")).isInstanceOf(SQLException.class)
                    .hasMessageContaining("default_pool_size");
            assertThatThrownBy(() -> admin.execute("SET listen_port = 1")).isInstanceOf(SQLException.class)
                    .hasMessageContaining("restart");
            admin.execute("SET application_name = 'exporter'"); // drivers' session SETs are acknowledged
        }
    }

    @Test
    void reconnectClosesServersAsTheyAreReleasedAndWaitCloseWaits() throws Exception {
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw"); Connection c = turnout.connect()) {
            c.setAutoCommit(false);
            ResultSet rs = c.createStatement().executeQuery("select pg_backend_pid()");
            rs.next();
            int oldPid = rs.getInt(1);
            admin.execute("RECONNECT app");
            CompletableFuture<Void> waitClose = CompletableFuture.runAsync(() -> {
                try {
                    admin.execute("WAIT_CLOSE app");
                } catch (SQLException e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(300);
            assertThat(waitClose).as("the server in a transaction is still open").isNotDone();
            c.commit();
            waitClose.get(10, TimeUnit.SECONDS);
            rs = c.createStatement().executeQuery("select pg_backend_pid()");
            rs.next();
            assertThat(rs.getInt(1)).isNotEqualTo(oldPid);
            c.commit();
        }
    }

    @Test
    void killClientDisableAndEnable() throws Exception {
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw"); Connection victim = turnout.connect()) {
            victim.createStatement().execute("select 1");
            String id = admin.query("SHOW CLIENTS").only("database", "app").get("id");
            admin.execute("KILL_CLIENT " + id);
            assertThatThrownBy(() -> victim.createStatement().execute("select 1")).isInstanceOf(SQLException.class);
            assertThatThrownBy(() -> admin.execute("KILL_CLIENT 999999999")).hasMessageContaining("client not found");

            admin.execute("DISABLE app");
            assertThatThrownBy(turnout::connect).isInstanceOf(SQLException.class).hasMessageContaining("does not allow");
            admin.execute("ENABLE app");
            try (Connection c = turnout.connect()) {
                c.createStatement().execute("select 1");
            }
            assertThatThrownBy(() -> admin.execute("PAUSE nosuchdb")).hasMessageContaining("no such database");
        }
    }

    @Test
    void killDropsTheDatabasesClientsAndPausesIt() throws Exception {
        List<Connection> clients = new ArrayList<>();
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            for (int i = 0; i < 3; i++) {
                Connection c = turnout.connect();
                c.createStatement().execute("select 1");
                clients.add(c);
            }
            admin.execute("KILL app");
            for (Connection c : clients) {
                assertThatThrownBy(() -> c.createStatement().execute("select 1")).isInstanceOf(SQLException.class);
            }
            assertThat(admin.query("SHOW DATABASES").only("name", "app").get("paused")).isEqualTo("1");
            admin.execute("RESUME app");
            try (Connection c = turnout.connect()) {
                c.createStatement().execute("select 1");
            }
        } finally {
            for (Connection c : clients) {
                c.close();
            }
        }
    }

    @Test
    void suspendStopsReadingClientsUntilResume() throws Exception {
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw"); Connection c = turnout.connect()) {
            c.createStatement().execute("select 1");
            admin.execute("SUSPEND");
            assertThat(admin.query("SHOW STATE").only("key", "suspended").get("value")).isEqualTo("yes");
            CompletableFuture<Integer> q = CompletableFuture.supplyAsync(() -> {
                try (ResultSet rs = c.createStatement().executeQuery("select 5")) {
                    rs.next();
                    return rs.getInt(1);
                } catch (SQLException e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(300);
            assertThat(q).as("a suspended client's query is not read").isNotDone();
            admin.execute("RESUME");
            assertThat(q.get(10, TimeUnit.SECONDS)).isEqualTo(5);
        }
    }

    @Test
    void shutdownWaitForServersLetsTransactionsFinish() throws Exception {
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw"); Connection c = turnout.connect()) {
            c.setAutoCommit(false);
            c.createStatement().execute("insert into ac_log (worker) values (-2)");
            admin.execute("SHUTDOWN WAIT_FOR_SERVERS");
            assertThat(turnout.server().readiness()).contains("draining");
            Thread.sleep(300);
            assertThat(turnout.server().terminated()).as("waits for the open transaction").isNotDone();
            c.commit();
            turnout.server().terminated().get(10, TimeUnit.SECONDS);
        }
        assertThat(pg.psql("app", "select count(*) from ac_log where worker = -2").trim()).isEqualTo("1");
    }
}
