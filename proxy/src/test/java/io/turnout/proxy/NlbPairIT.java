package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.turnout.proxy.testing.HaProxy;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.TurnoutProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The production shape: two Turnout processes behind HAProxy (TCP, send-proxy-v2, health checks on
 * /ready), as behind an AWS NLB. A HikariCP pool runs transactions the whole time while each instance in
 * turn gets SIGTERM, drains, exits and is started again: no transaction fails. A cancel that the balancer
 * sends to the other instance still stops the query. Clients bind 127.0.0.2, so SHOW CLIENTS can prove
 * it shows their real address rather than HAProxy's.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NlbPairIT {
    static final String CLIENT_ADDR = "127.0.0.2";
    static PgServer pg;
    static Path dir;
    static int[] ports;
    static final TurnoutProcess[] turnouts = new TurnoutProcess[2];
    static HaProxy haproxy;

    @BeforeAll
    static void start() throws Exception {
        pg = PgServer.shared();
        pg.psql("app", "CREATE TABLE IF NOT EXISTS nlb_log (id bigserial primary key, worker int)");
        dir = Files.createTempDirectory("turnout-nlb-");
        ports = NetworkFeaturesIT.freePorts(5); // two listeners, two /ready ports, HAProxy
        Files.writeString(dir.resolve("users.txt"), "\"alice\" \"alice_pw\"\n\"admin\" \"admin_pw\"\n");
        for (int i = 0; i < 2; i++) {
            Path cfg = dir.resolve("turnout" + (i + 1) + ".yaml");
            Files.writeString(cfg, """
                    listen_addr: 127.0.0.1
                    listen_port: %d
                    metrics_port: %d
                    auth_type: scram-sha-256
                    auth_file: users.txt
                    admin_users: admin
                    pool_mode: transaction
                    default_pool_size: 8
                    workers: 1
                    proxy_protocol: true
                    proxy_protocol_trusted: [127.0.0.1/32]
                    peer_id: %d
                    peers: [{id: 1, host: 127.0.0.1, port: %d}, {id: 2, host: 127.0.0.1, port: %d}]
                    drain_accept_delay: 1
                    drain_timeout: 90
                    tcp_keepidle: 10
                    tcp_keepintvl: 1
                    tcp_keepcnt: 5
                    databases:
                      app: { host: %s, port: %d, dbname: app, user: postgres, password: postgres }
                    """.formatted(ports[i], ports[2 + i], i + 1, ports[0], ports[1], pg.host(), pg.port()));
            turnouts[i] = TurnoutProcess.start(cfg);
        }
        awaitReady(0);
        awaitReady(1);
        haproxy = HaProxy.start(ports[4], List.of(new HaProxy.Backend("t1", ports[0], ports[2]),
                new HaProxy.Backend("t2", ports[1], ports[3])));
        awaitUp("t1");
        awaitUp("t2");
    }

    /** HAProxy counts a server up before its first check: wait for the instance's own /ready first. */
    static void awaitReady(int instance) throws Exception {
        var http = java.net.http.HttpClient.newHttpClient();
        var req = java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + ports[2 + instance] + "/ready")).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            try {
                if (http.send(req, java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (java.io.IOException e) {
                // not listening yet
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("turnout" + (instance + 1) + " not ready: " + turnouts[instance].logTail());
            }
            Thread.sleep(100);
        }
    }

    /** Both instances' recent log lines, for failure messages. */
    static String logs() throws java.io.IOException {
        return "\n--- turnout1 ---\n" + turnouts[0].logTail() + "\n--- turnout2 ---\n" + turnouts[1].logTail()
                + "\n--- haproxy ---\n" + haproxy.log();
    }

    @AfterAll
    static void stop() {
        if (haproxy != null) {
            haproxy.close();
        }
        for (TurnoutProcess t : turnouts) {
            if (t != null) {
                t.close();
            }
        }
    }

    static void awaitUp(String server) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!haproxy.state(server).equals("2")) { // srv_op_state 2 = running
            if (System.nanoTime() > deadline) {
                throw new AssertionError(server + " not up in HAProxy: " + haproxy.command("show servers state")
                        + "\n" + haproxy.log());
            }
            Thread.sleep(100);
        }
    }

    static Properties clientProps(String localAddr) {
        Properties p = new Properties();
        p.setProperty("user", "alice");
        p.setProperty("password", "alice_pw");
        p.setProperty("localSocketAddress", localAddr);
        return p;
    }

    static Connection admin(int instance) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "admin");
        p.setProperty("password", "admin_pw");
        p.setProperty("preferQueryMode", "simple");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + ports[instance] + "/pgbouncer", p);
    }

    /** Client addresses SHOW CLIENTS lists for database app on {@code instance}. */
    static List<String> clientAddrs(int instance) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection a = admin(instance); ResultSet rs = a.createStatement().executeQuery("SHOW CLIENTS")) {
            while (rs.next()) {
                if (rs.getString("database").equals("app")) {
                    out.add(rs.getString("addr"));
                }
            }
        }
        return out;
    }

    @Test
    @Order(1)
    void aCancelThatLandsOnTheOtherInstanceStillStopsTheQuery() throws Exception {
        Connection first;
        try {
            first = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + haproxy.port() + "/app",
                    clientProps("127.0.0.3"));
        } catch (SQLException e) {
            throw new AssertionError("connecting through HAProxy failed: " + e + logs(), e);
        }
        try (Connection c = first) {
            int owner = clientAddrs(0).contains("127.0.0.3") ? 0 : 1;
            assertThat(clientAddrs(owner)).contains("127.0.0.3");
            String ownerName = "t" + (owner + 1);
            haproxy.command("set server turnout/" + ownerName + " state maint"); // new connections: the other one
            try {
                Statement s = c.createStatement();
                CompletableFuture<Void> sleeping = CompletableFuture.runAsync(() -> {
                    try {
                        s.execute("select pg_sleep(30)");
                    } catch (SQLException e) {
                        throw new RuntimeException(e);
                    }
                });
                Thread.sleep(500);
                long t0 = System.nanoTime();
                s.cancel(); // pgjdbc opens a new connection to HAProxy, which picks the other instance
                assertThatThrownBy(() -> sleeping.get(10, TimeUnit.SECONDS)).hasRootCauseInstanceOf(SQLException.class)
                        .rootCause().hasMessageContaining("canceling statement due to user request");
                System.out.printf("nlb: cancel via the other instance took %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            } finally {
                haproxy.command("set server turnout/" + ownerName + " state ready");
            }
        }
        awaitUp("t1");
        awaitUp("t2");
    }

    @Test
    @Order(2)
    void rollingRestartOfBothInstancesFailsNoTransaction() throws Exception {
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl("jdbc:postgresql://127.0.0.1:" + haproxy.port() + "/app");
        hc.setDataSourceProperties(clientProps(CLIENT_ADDR));
        hc.setMaximumPoolSize(6);
        hc.setMaxLifetime(30_000); // below drain_timeout: the pool moves its connections off a draining instance
        hc.setConnectionTimeout(30_000);
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong commits = new AtomicLong();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        ExecutorService workers = Executors.newFixedThreadPool(4);
        try (HikariDataSource ds = new HikariDataSource(hc)) {
            for (int w = 0; w < 4; w++) {
                int worker = w;
                workers.submit(() -> {
                    while (running.get()) {
                        try (Connection c = ds.getConnection()) {
                            c.setAutoCommit(false);
                            try (PreparedStatement ps = c.prepareStatement("insert into nlb_log (worker) values (?)")) {
                                ps.setInt(1, worker);
                                ps.executeUpdate();
                            }
                            try (ResultSet rs = c.createStatement().executeQuery("select count(*) from nlb_log")) {
                                rs.next();
                            }
                            c.commit();
                            commits.incrementAndGet();
                            Thread.sleep(5);
                        } catch (Throwable t) {
                            failures.add(t);
                        }
                    }
                    return null;
                });
            }
            awaitCommits(commits, 200);
            List<String> seen = new ArrayList<>(clientAddrs(0));
            seen.addAll(clientAddrs(1));
            assertThat(seen).as("SHOW CLIENTS shows the clients' own address, not HAProxy's").isNotEmpty()
                    .allSatisfy(a -> assertThat(a).isEqualTo(CLIENT_ADDR));
            for (int i = 0; i < 2; i++) {
                long t0 = System.nanoTime();
                turnouts[i].signal("TERM");
                assertThat(turnouts[i].awaitExit(Duration.ofSeconds(90))).as(turnouts[i].logTail()).isZero();
                long drained = System.nanoTime();
                awaitCommits(commits, 50); // the other instance carries everything meanwhile
                turnouts[i].restart();
                awaitReady(i);
                awaitUp("t" + (i + 1));
                System.out.printf("nlb: instance %d drained and exited in %d ms, back in %d ms%n", i + 1,
                        (drained - t0) / 1_000_000, (System.nanoTime() - drained) / 1_000_000);
                awaitCommits(commits, 100);
            }
            stopWorkers(running, workers); // before the pool closes under them
        } finally {
            stopWorkers(running, workers);
        }
        System.out.printf("nlb: rolling restart commits=%d failures=%d%n", commits.get(), failures.size());
        assertThat(failures).as("failed transactions").isEmpty();
    }

    static void stopWorkers(AtomicBoolean running, ExecutorService workers) throws InterruptedException {
        running.set(false);
        workers.shutdown();
        assertThat(workers.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
    }

    static void awaitCommits(AtomicLong commits, long more) throws InterruptedException {
        long target = commits.get() + more;
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (commits.get() < target && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(commits.get()).as("transactions keep committing").isGreaterThanOrEqualTo(target);
    }
}
