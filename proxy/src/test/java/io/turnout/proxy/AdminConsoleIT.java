package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.AdminClient.Table;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The admin console through pgjdbc and psql: every SHOW answers PgBouncer's columns in PgBouncer's order,
 * with values that match a known load (30 clients, 10 of them in transactions holding the 10 servers,
 * 5 waiting, 15 idle).
 */
class AdminConsoleIT {
    static final List<String> POOLS = List.of("database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
            "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used",
            "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode", "load_balance_hosts");
    static final List<String> SOCKETS = List.of("type", "user", "database", "replication", "state", "addr", "port",
            "local_addr", "local_port", "connect_time", "request_time", "wait", "wait_us", "close_needed", "ptr",
            "link", "remote_pid", "tls", "application_name", "prepared_statements", "id");
    /** PgBouncer 1.18's columns (what `pgbouncer` 1.18 answers, checked column by column), newer ones after. */
    static final List<String> DATABASES = List.of("name", "host", "port", "database", "force_user", "pool_size",
            "min_pool_size", "reserve_pool", "pool_mode", "max_connections", "current_connections", "paused",
            "disabled", "server_lifetime", "load_balance_hosts", "max_client_connections", "current_client_connections");
    static final List<String> STATS = List.of("database", "total_xact_count", "total_query_count", "total_received",
            "total_sent", "total_xact_time", "total_query_time", "total_wait_time", "avg_xact_count",
            "avg_query_count", "avg_recv", "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time",
            "total_server_assignment_count", "total_client_parse_count", "total_server_parse_count",
            "total_bind_count", "avg_server_assignment_count", "avg_client_parse_count", "avg_server_parse_count",
            "avg_bind_count");
    static final List<String> STATS_TOTALS = List.of("database", "xact_count", "query_count", "bytes_received",
            "bytes_sent", "xact_time", "query_time", "wait_time", "server_assignment_count", "client_parse_count",
            "server_parse_count", "bind_count");
    static final List<String> LISTS = List.of("databases", "users", "pools", "free_clients", "used_clients",
            "login_clients", "free_servers", "used_servers", "dns_names", "dns_zones", "dns_queries", "dns_pending");

    static PgServer pg;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        turnout = TurnoutFixture.builder(pg)
                .set("default_pool_size", 10)
                .set("stats_period", 1)
                .set("admin_users", "admin")
                .set("stats_users", "watcher")
                .user("admin", "admin_pw")
                .user("watcher", "watcher_pw")
                .start();
    }

    @AfterAll
    static void stop() {
        turnout.close();
    }

    @Test
    void everyShowAnswersPgBouncersColumnsInOrder() throws SQLException {
        try (Connection app = turnout.connect(); AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            app.createStatement().execute("select 1"); // so a pool exists
            assertThat(admin.query("SHOW POOLS").columns()).isEqualTo(POOLS);
            assertThat(admin.query("SHOW CLIENTS").columns()).isEqualTo(SOCKETS);
            assertThat(admin.query("SHOW SERVERS").columns()).as("PgBouncer's, then the standby a server is on")
                    .isEqualTo(java.util.stream.Stream.concat(SOCKETS.stream(), java.util.stream.Stream.of("member"))
                            .toList());
            assertThat(admin.query("SHOW DATABASES").columns()).isEqualTo(DATABASES);
            assertThat(admin.query("SHOW STATS").columns()).isEqualTo(STATS);
            assertThat(admin.query("SHOW STATS_TOTALS").columns()).isEqualTo(STATS_TOTALS);
            assertThat(admin.query("SHOW STATS_AVERAGES").columns()).isEqualTo(STATS_TOTALS);
            assertThat(admin.query("SHOW TOTALS").columns()).containsExactly("name", "value");
            Table lists = admin.query("SHOW LISTS");
            assertThat(lists.columns()).containsExactly("list", "items");
            assertThat(lists.rows().stream().map(r -> r.get("list")).toList()).isEqualTo(LISTS);
            assertThat(admin.query("SHOW USERS").columns()).containsExactly("name", "pool_size", "reserve_pool_size",
                    "pool_mode", "max_user_connections", "current_connections", "max_user_client_connections",
                    "current_client_connections");
            assertThat(admin.query("SHOW CONFIG").columns()).containsExactly("key", "value", "default", "changeable");
            assertThat(admin.query("SHOW VERSION").columns()).containsExactly("version");
            Table state = admin.query("SHOW STATE");
            assertThat(state.columns()).containsExactly("key", "value");
            assertThat(state.only("key", "active").get("value")).isEqualTo("yes");
            assertThat(admin.query("SHOW TOPOLOGY").columns()).containsExactly("database", "scope", "source",
                    "leader", "leader_member", "generation", "since", "stale", "last_error", "state", "candidate",
                    "switchover_age_ms", "paused", "member", "member_role", "lag_bytes", "in_use", "routed");
            assertThat(admin.query("SHOW PREPARED").columns()).containsExactly("name", "query",
                    "client_parse_count", "server_parse_count", "bind_count");
            // PgBouncer's types: counts int4, statistics numeric, timestamps text
            Table pools = admin.query("SHOW POOLS");
            assertThat(pools.types().subList(0, 3)).containsExactly("text", "text", "int4");
            assertThat(admin.query("SHOW STATS").types().get(2)).isEqualTo("numeric");
            assertThat(admin.query("SHOW CLIENTS").types().get(9)).isEqualTo("text");
        }
    }

    @Test
    void valuesMatchAKnownLoad() throws Exception {
        List<Connection> clients = new ArrayList<>();
        ExecutorService waiters = Executors.newFixedThreadPool(5);
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            for (int i = 0; i < 30; i++) {
                clients.add(turnout.connect());
            }
            for (int i = 0; i < 10; i++) { // hold all ten servers in open transactions
                Connection c = clients.get(i);
                c.setAutoCommit(false);
                c.createStatement().execute("select 1");
            }
            List<Future<Integer>> waiting = new ArrayList<>();
            for (int i = 10; i < 15; i++) {
                Connection c = clients.get(i);
                waiting.add(waiters.submit(() -> {
                    try (Statement s = c.createStatement(); var rs = s.executeQuery("select 7")) {
                        rs.next();
                        return rs.getInt(1);
                    }
                }));
            }
            Table pools = awaitRow(admin, "SHOW POOLS", r -> r.get("cl_waiting").equals("5"));
            Map<String, String> pool = pools.only("database", "app");
            assertThat(pool.get("user")).isEqualTo("postgres");
            assertThat(pool.get("cl_active")).isEqualTo("25");
            assertThat(pool.get("cl_waiting")).isEqualTo("5");
            assertThat(pool.get("sv_active")).isEqualTo("10");
            assertThat(pool.get("sv_idle")).isEqualTo("0");
            assertThat(pool.get("pool_mode")).isEqualTo("transaction");
            assertThat(Long.parseLong(pool.get("maxwait")) * 1_000_000 + Long.parseLong(pool.get("maxwait_us")))
                    .isGreaterThan(0);

            Table cl = admin.query("SHOW CLIENTS");
            List<Map<String, String>> appClients = cl.where("database", "app");
            assertThat(appClients).hasSize(30);
            assertThat(appClients.stream().filter(r -> r.get("state").equals("active"))).hasSize(10);
            assertThat(appClients.stream().filter(r -> r.get("state").equals("waiting"))).hasSize(5);
            assertThat(appClients.stream().filter(r -> r.get("state").equals("idle"))).hasSize(15);
            assertThat(cl.where("database", "pgbouncer")).hasSize(1); // this console
            Table sv = admin.query("SHOW SERVERS");
            assertThat(sv.rows()).hasSize(10);
            assertThat(sv.rows()).allSatisfy(r -> {
                assertThat(r.get("type")).isEqualTo("S");
                assertThat(r.get("state")).isEqualTo("active");
                assertThat(r.get("port")).isEqualTo(String.valueOf(pg.port()));
                assertThat(Integer.parseInt(r.get("remote_pid"))).isPositive();
            });
            // each active server's link is the ptr of an active client
            List<String> activePtrs = appClients.stream().filter(r -> r.get("state").equals("active"))
                    .map(r -> r.get("ptr")).toList();
            assertThat(sv.rows().stream().map(r -> r.get("link")).toList()).containsExactlyInAnyOrderElementsOf(activePtrs);

            Map<String, String> db = admin.query("SHOW DATABASES").only("name", "app");
            assertThat(db.get("pool_size")).isEqualTo("10");
            assertThat(db.get("current_connections")).isEqualTo("10");
            assertThat(db.get("current_client_connections")).isEqualTo("30");
            assertThat(db.get("port")).isEqualTo(String.valueOf(pg.port()));
            Table lists = admin.query("SHOW LISTS");
            assertThat(lists.only("list", "used_servers").get("items")).isEqualTo("10");
            assertThat(Integer.parseInt(lists.only("list", "used_clients").get("items"))).isGreaterThanOrEqualTo(31);

            for (int i = 0; i < 10; i++) { // end the transactions: the waiters get servers
                clients.get(i).commit();
            }
            for (Future<Integer> f : waiting) {
                assertThat(f.get(10, TimeUnit.SECONDS)).isEqualTo(7);
            }
            Map<String, String> afterPool = awaitRow(admin, "SHOW POOLS", r -> r.get("cl_waiting").equals("0")
                    && r.get("sv_active").equals("0")).only("database", "app");
            assertThat(afterPool.get("sv_idle")).isEqualTo("10");
            assertThat(afterPool.get("cl_active")).isEqualTo("30");
        } finally {
            waiters.shutdownNow();
            for (Connection c : clients) {
                c.close();
            }
        }
    }

    @Test
    void statsCountTransactionsQueriesAndBytes() throws Exception {
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            Map<String, String> before = admin.query("SHOW STATS_TOTALS").only("database", "app");
            // psql sends each statement as one simple query: exactly 80 queries, 60 transactions
            StringBuilder script = new StringBuilder();
            script.append("select 1;\n".repeat(50));
            script.append("begin;\nselect 2;\ncommit;\n".repeat(10));
            Processes.Result r = Processes.run(Duration.ofSeconds(60), List.of(pg.bin("psql"), "-h", "127.0.0.1",
                    "-p", String.valueOf(turnout.port()), "-U", TurnoutFixture.USER, "-X", "-q", "-v",
                    "ON_ERROR_STOP=1", "app"), turnout.clientEnv(), null, script.toString());
            assertThat(r.exitCode()).as(r.toString()).isZero();
            Map<String, String> after = admin.query("SHOW STATS_TOTALS").only("database", "app");
            assertThat(delta(before, after, "xact_count")).as(before + " -> " + after).isEqualTo(60);
            assertThat(delta(before, after, "query_count")).isEqualTo(80);
            assertThat(delta(before, after, "bytes_received")).isPositive();
            assertThat(delta(before, after, "bytes_sent")).isPositive();
            assertThat(delta(before, after, "xact_time")).isPositive();
            assertThat(delta(before, after, "query_time")).isPositive();
            assertThat(delta(before, after, "server_assignment_count")).isGreaterThanOrEqualTo(60);
            // averages cover the last stats_period (1 s here): within two periods they show the traffic
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            boolean sawAverages = false;
            try (Connection c = turnout.connect(); Statement s = c.createStatement()) {
                while (!sawAverages && System.nanoTime() < deadline) {
                    for (int i = 0; i < 20; i++) {
                        s.execute("select 1");
                    }
                    Map<String, String> avg = admin.query("SHOW STATS").only("database", "app");
                    sawAverages = Long.parseLong(avg.get("avg_xact_count")) > 0
                            && Long.parseLong(avg.get("avg_query_time")) > 0;
                }
            }
            assertThat(sawAverages).as("SHOW STATS averages become non-zero under load").isTrue();
            Table totals = admin.query("SHOW TOTALS");
            assertThat(Long.parseLong(totals.only("name", "total_xact_count").get("value"))).isGreaterThanOrEqualTo(60);
        }
    }

    @Test
    void showPreparedCountsParsesAndBinds() throws Exception {
        java.util.Properties props = new java.util.Properties();
        props.setProperty("prepareThreshold", "1"); // named server-side statements from the first execution
        try (AdminClient admin = new AdminClient(turnout, "admin", "admin_pw");
             Connection c = turnout.connect(props);
             java.sql.PreparedStatement ps = c.prepareStatement("select 'show_prepared_probe', ?::int")) {
            for (int i = 0; i < 5; i++) {
                ps.setInt(1, i);
                ps.executeQuery().close();
            }
            Map<String, String> row = admin.query("SHOW PREPARED").rows().stream()
                    .filter(r -> r.get("query").contains("show_prepared_probe")).findFirst().orElseThrow();
            assertThat(row.get("name")).startsWith("T_");
            assertThat(row.get("client_parse_count")).isEqualTo("1");
            assertThat(row.get("server_parse_count")).isEqualTo("1");
            assertThat(row.get("bind_count")).isEqualTo("5");
        }
    }

    @Test
    void psqlReadsTheConsoleAndErrorsNameTheCommand() {
        var env = new java.util.HashMap<>(PgServer.clientEnv());
        env.put("PGPASSWORD", "watcher_pw");
        List<String> cmd = List.of(pg.bin("psql"), "-h", "127.0.0.1", "-p", String.valueOf(turnout.port()),
                "-U", "watcher", "-X", "-A", "-t", "-c", "SHOW VERSION", "-c", "SHOW LISTS", "pgbouncer");
        Processes.Result r = Processes.run(Duration.ofSeconds(30), cmd, env, null, null);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).contains("Turnout").contains("databases|2"); // app and the console, as PgBouncer counts

        Processes.Result bad = Processes.run(Duration.ofSeconds(30), List.of(pg.bin("psql"), "-h", "127.0.0.1",
                "-p", String.valueOf(turnout.port()), "-U", "watcher", "-X", "-c", "SHOW NONSENSE", "pgbouncer"),
                env, null, null);
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.stderr()).contains("invalid command 'SHOW NONSENSE'");

        Processes.Result denied = Processes.run(Duration.ofSeconds(30), List.of(pg.bin("psql"), "-h", "127.0.0.1",
                "-p", String.valueOf(turnout.port()), "-U", "watcher", "-X", "-c", "PAUSE", "pgbouncer"), env, null, null);
        assertThat(denied.exitCode()).isNotZero();
        assertThat(denied.stderr()).contains("admin access needed");
    }

    @Test
    void usersOutsideAdminAndStatsUsersAreRefused() {
        assertThatThrownBy(() -> turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "pgbouncer",
                new java.util.Properties())).isInstanceOf(SQLException.class)
                .hasMessageContaining("may not use the admin console");
    }

    @Test
    void extendedProtocolGetsAClearError() throws SQLException {
        java.util.Properties p = new java.util.Properties();
        try (Connection c = turnout.connect("admin", "admin_pw", "pgbouncer", p); Statement s = c.createStatement()) {
            assertThatThrownBy(() -> s.executeQuery("SHOW POOLS")).isInstanceOf(SQLException.class)
                    .hasMessageContaining("only the simple query protocol");
        }
    }

    static long delta(Map<String, String> before, Map<String, String> after, String key) {
        return Long.parseLong(after.get(key)) - Long.parseLong(before.get(key));
    }

    /** Repeats {@code sql} until the app pool's row satisfies {@code ok} (the load settles), at most 10 s. */
    static Table awaitRow(AdminClient admin, String sql, java.util.function.Predicate<Map<String, String>> ok)
            throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        Table t;
        do {
            t = admin.query(sql);
            List<Map<String, String>> rows = t.where("database", "app");
            if (rows.size() == 1 && ok.test(rows.get(0))) {
                return t;
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("condition not reached; last " + sql + ": " + t.rows());
    }
}
