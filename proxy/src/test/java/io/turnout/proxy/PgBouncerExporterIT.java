package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.DebianPackages;
import io.turnout.proxy.testing.PgBouncer;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * Debian's prometheus-pgbouncer-exporter against Turnout and against the real PgBouncer 1.18 side by side
 * (issue 19 item 6): the same metric families with the same labels from both, the virtual pgbouncer
 * database included, and the admin console's SHOW DATABASES / POOLS / STATS in PgBouncer 1.18's layout.
 */
class PgBouncerExporterIT {
    static final Path PYTHON = Path.of("/usr/bin/python3");

    @Test
    void debiansExporterSeesTheSameMetricsAsFromPgBouncer118() throws Exception {
        DebianPackages.ensure("prometheus-pgbouncer-exporter", List.of(Path.of("/usr/bin/prometheus-pgbouncer-exporter")));
        PgServer pg = PgServer.shared();
        try (PgBouncer pgbouncer = PgBouncer.start("app = host=" + pg.host() + " port=" + pg.port()
                        + " dbname=app user=postgres password=postgres",
                "auth_type = trust\nadmin_users = admin\npool_mode = transaction\n"
                        + "ignore_startup_parameters = extra_float_digits", "\"admin\" \"\"\n\"alice\" \"\"\n");
                TurnoutFixture turnout = TurnoutFixture.builder(pg).set("auth_type", "trust")
                        .set("admin_users", "admin").user("admin", "").start()) {
            int port = pgbouncer.port();
            // one client each, so both have the app pool
            try (Connection viaPgBouncer = connect(port); Connection viaTurnout = connect(turnout.port())) {
                viaPgBouncer.createStatement().execute("select 1");
                viaTurnout.createStatement().execute("select 1");
                String fromPgBouncer = exporter(port);
                String fromTurnout = exporter(turnout.port());
                assertThat(fromTurnout).isEqualTo(fromPgBouncer);
                assertThat(fromTurnout).contains("pgbouncer_reserve_pool[[\"database\", \"app\"]]",
                        "pgbouncer_reserve_pool[[\"database\", \"pgbouncer\"]]",
                        "pgbouncer_active_clients[[\"database\", \"pgbouncer\"], [\"user\", \"pgbouncer\"]]",
                        "pgbouncer_requests_total[[\"database\", \"pgbouncer\"]]");

                for (String show : List.of("DATABASES", "POOLS", "STATS", "STATS_TOTALS", "STATS_AVERAGES")) {
                    List<String> theirs = show(pg, port, show).get(0);
                    assertThat(show(pg, turnout.port(), show).get(0).subList(0, theirs.size()))
                            .as("SHOW %s starts with PgBouncer 1.18's columns", show).isEqualTo(theirs);
                }
                Map<String, String> console = row(show(pg, turnout.port(), "DATABASES"), "pgbouncer");
                Map<String, String> theirs = row(show(pg, port, "DATABASES"), "pgbouncer");
                for (String col : List.of("host", "database", "force_user", "pool_size", "reserve_pool",
                        "pool_mode", "max_connections", "paused", "disabled")) {
                    assertThat(console.get(col)).as(col).isEqualTo(theirs.get(col));
                }
                assertThat(row(show(pg, turnout.port(), "POOLS"), "pgbouncer").get("pool_mode")).isEqualTo("statement");
                assertThat(row(show(pg, turnout.port(), "STATS"), "pgbouncer")).isNotNull();
            }
        }
    }

    /** SHOW through psql, as the console's users read it: the header, then each row's fields. */
    private static List<List<String>> show(PgServer pg, int port, String what) {
        Map<String, String> env = PgServer.clientEnv();
        env.put("PGPASSWORD", "");
        Processes.Result r = Processes.run(Duration.ofSeconds(30), List.of(pg.bin("psql"), "-h", "127.0.0.1", "-p",
                String.valueOf(port), "-U", "admin", "-X", "-A", "-P", "footer=off", "-P", "null=<NULL>",
                "-c", "SHOW " + what, "pgbouncer"), env, null, null);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        return r.stdout().lines().map(l -> List.of(l.split("\\|", -1))).toList();
    }

    /** The row whose first field is {@code name}, by column name. */
    private static Map<String, String> row(List<List<String>> table, String name) {
        List<List<String>> rows = table.stream().skip(1).filter(r -> r.get(0).equals(name)).toList();
        assertThat(rows).as("rows named %s in %s", name, table).hasSize(1);
        Map<String, String> out = new java.util.LinkedHashMap<>();
        for (int i = 0; i < table.get(0).size(); i++) {
            out.put(table.get(0).get(i), rows.get(0).get(i));
        }
        return out;
    }

    private static Connection connect(int port) throws Exception {
        Properties p = new Properties();
        p.setProperty("user", "alice");
        p.setProperty("password", "");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/app", p);
    }

    private static String exporter(int port) throws Exception {
        Map<String, String> env = PgServer.clientEnv();
        env.put("PGBOUNCER_HOST", "127.0.0.1");
        env.put("PGBOUNCER_PORT", String.valueOf(port));
        env.put("PGBOUNCER_USER", "admin");
        env.put("PGPASSWORD", "");
        Path script = Path.of(PgBouncerExporterIT.class.getResource("/drivers/pgbouncer_exporter_check.py").toURI());
        Processes.Result r = Processes.run(Duration.ofSeconds(60), List.of(PYTHON.toString(), script.toString()),
                env, null, null);
        assertThat(r.exitCode()).as("exporter against port %d\n%s%s", port, r.stdout(), r.stderr()).isZero();
        return r.stdout();
    }
}
