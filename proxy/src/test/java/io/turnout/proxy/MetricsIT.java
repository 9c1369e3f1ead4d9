package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Prometheus;
import io.turnout.proxy.testing.TurnoutFixture;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * /metrics is valid Prometheus text (promtool), a real Prometheus scrapes it and answers a query on a
 * pool gauge, and /health and /ready tell a load balancer what it needs.
 */
class MetricsIT {
    static PgServer pg;
    static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        Prometheus.ensureInstalled();
    }

    static TurnoutFixture turnout() {
        return TurnoutFixture.builder(pg).set("metrics_port", 0).set("admin_users", "admin").set("drain_accept_delay", 0)
                .user("admin", "admin_pw").start();
    }

    static HttpResponse<String> get(TurnoutFixture t, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + t.server().httpPort() + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void metricsPassPromtoolAndCarryPgBouncerExporterNames() throws Exception {
        try (TurnoutFixture t = turnout(); Connection c = t.connect(); Statement s = c.createStatement()) {
            for (int i = 0; i < 20; i++) {
                s.execute("select 1");
            }
            HttpResponse<String> r = get(t, "/metrics");
            assertThat(r.statusCode()).isEqualTo(200);
            String body = r.body();
            assertThat(Prometheus.checkMetrics(body)).isEmpty();
            assertThat(body).contains("pgbouncer_pools_client_active_connections{database=\"app\",user=\"postgres\"} 1.0")
                    .contains("pgbouncer_stats_totals_queries_pooled_total{database=\"app\"}")
                    .contains("pgbouncer_stats_totals_sql_transactions_pooled_total{database=\"app\"}")
                    .contains("pgbouncer_databases_pool_size{")
                    .contains("turnout_client_wait_seconds_bucket{database=\"app\"")
                    .contains("turnout_client_wait_p99_seconds{database=\"app\"}")
                    .contains("turnout_pool_servers{database=\"app\",state=\"idle\",user=\"postgres\"}")
                    .contains("jvm_memory_used_bytes")
                    .contains("process_cpu_usage");
            assertThat(sample(body, "turnout_queries_total{database=\"app\"}")).isGreaterThanOrEqualTo(20);
        }
    }

    @Test
    void aRealPrometheusScrapesAndAnswersAPoolGaugeQuery() throws Exception {
        List<Connection> clients = new ArrayList<>();
        try (TurnoutFixture t = turnout()) {
            for (int i = 0; i < 7; i++) {
                Connection c = t.connect();
                c.createStatement().execute("select 1");
                clients.add(c);
            }
            try (Prometheus prom = Prometheus.start("127.0.0.1:" + t.server().httpPort(), "/metrics",
                    Duration.ofSeconds(1))) {
                prom.awaitScrape(Prometheus.JOB);
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                double value = -1;
                while (System.nanoTime() < deadline) {
                    var samples = prom.query("pgbouncer_pools_client_active_connections{database=\"app\"}");
                    if (!samples.isEmpty()) {
                        value = samples.get(0).value();
                        if (value == 7) {
                            break;
                        }
                    }
                    Thread.sleep(500);
                }
                assertThat(value).isEqualTo(7);
                assertThat(prom.query("sum(turnout_pool_servers{database=\"app\"})").get(0).value()).isPositive();
            }
        } finally {
            for (Connection c : clients) {
                c.close();
            }
        }
    }

    @Test
    void readyFailsWhileDrainingAndHealthStaysUp() throws Exception {
        try (TurnoutFixture t = turnout()) {
            assertThat(get(t, "/health").statusCode()).isEqualTo(200);
            HttpResponse<String> ready = get(t, "/ready");
            assertThat(ready.statusCode()).isEqualTo(200);
            try (Connection c = t.connect(); AdminClient admin = new AdminClient(t, "admin", "admin_pw")) {
                admin.execute("SHUTDOWN WAIT_FOR_CLIENTS");
                HttpResponse<String> draining = get(t, "/ready");
                assertThat(draining.statusCode()).isEqualTo(503);
                assertThat(draining.body()).contains("draining");
                assertThat(get(t, "/health").statusCode()).isEqualTo(200);
                c.createStatement().execute("select 1"); // a connected client keeps working while draining
            }
            t.server().terminated().get(10, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    @Test
    void theGrafanaDashboardOnlyUsesMetricsTurnoutServes() throws Exception {
        String json = java.nio.file.Files.readString(java.nio.file.Path.of("..", "docker", "grafana",
                "turnout-dashboard.json"));
        var root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
        List<String> exprs = new ArrayList<>();
        root.get("panels").forEach(p -> p.get("targets").forEach(t -> exprs.add(t.get("expr").asText())));
        assertThat(exprs).hasSizeGreaterThan(15);
        try (TurnoutFixture t = turnout(); Connection c = t.connect()) {
            c.createStatement().execute("select 1");
            String body = get(t, "/metrics").body();
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!body.contains("\njvm_gc_pause_seconds_sum") && System.nanoTime() < deadline) {
                System.gc(); // the GC pause family appears once a collection is reported after start
                Thread.sleep(100);
                body = get(t, "/metrics").body();
            }
            var names = java.util.regex.Pattern.compile("\\b((?:turnout|pgbouncer|jvm|process)_[a-z0-9_]+)");
            for (String e : exprs) {
                var m = names.matcher(e);
                while (m.find()) {
                    assertThat(body).as("dashboard expression " + e).contains("\n" + m.group(1));
                }
            }
        }
    }

    static double sample(String exposition, String series) {
        for (String line : exposition.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        throw new AssertionError("no sample " + series);
    }
}
