package io.turnout.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.turnout.proxy.testing.Prometheus.Sample;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Proves the {@link Prometheus} fixture: promtool's verdicts and a real scrape answering a query. */
@Timeout(value = 15, unit = TimeUnit.MINUTES) // the first run on a fresh machine installs the package
class PrometheusIT {
    private static final String VALID = String.join("\n",
            "# HELP demo_pool_clients Clients connected to the pool.",
            "# TYPE demo_pool_clients gauge",
            "demo_pool_clients{database=\"app\"} 3",
            "# HELP demo_queries_total Queries served.",
            "# TYPE demo_queries_total counter",
            "demo_queries_total{database=\"app\"} 42",
            "");

    @BeforeAll
    static void install() {
        long t0 = System.nanoTime();
        Prometheus.ensureInstalled();
        System.out.printf("PrometheusIT: ensureInstalled took %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    }

    @Test
    void promtoolAcceptsAValidExposition() {
        assertThat(Prometheus.checkMetrics(VALID)).isEmpty();
    }

    @Test
    void promtoolReportsACounterWithoutTotal() {
        String bad = String.join("\n",
                "# HELP demo_queries Queries served.",
                "# TYPE demo_queries counter",
                "demo_queries 42",
                "");
        List<String> problems = Prometheus.checkMetrics(bad);
        assertThat(problems).anySatisfy(p -> assertThat(p).contains("demo_queries").contains("_total"));
        assertThat(problems).anySatisfy(p -> assertThat(p).contains("exited with code"));
    }

    @Test
    void promtoolReportsAMalformedLine() {
        String bad = String.join("\n",
                "# TYPE demo_pool_clients gauge",
                "demo_pool_clients{database=\"app\" 3",
                "");
        List<String> problems = Prometheus.checkMetrics(bad);
        assertThat(problems).anySatisfy(p -> assertThat(p).contains("parsing error"));
        assertThat(problems).anySatisfy(p -> assertThat(p).contains("exited with code"));
    }

    @Test
    void prometheusScrapesTheTargetAndAnswersAQueryOnTheGauge() throws Exception {
        Queue<String> userAgents = new ConcurrentLinkedQueue<>();
        HttpServer target = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
        target.createContext("/metrics", exchange -> {
            userAgents.add(String.valueOf(exchange.getRequestHeaders().getFirst("User-Agent")));
            byte[] body = VALID.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        target.start();
        try {
            long t0 = System.nanoTime();
            try (Prometheus prom = Prometheus.start("127.0.0.1:" + target.getAddress().getPort(), "/metrics",
                    Duration.ofSeconds(1))) {
                long ready = System.nanoTime();
                prom.awaitScrape(Prometheus.JOB);
                System.out.printf("PrometheusIT: start %d ms, first scrape %d ms later%n",
                        (ready - t0) / 1_000_000, (System.nanoTime() - ready) / 1_000_000);

                List<Sample> samples = prom.query("demo_pool_clients");
                assertThat(samples).hasSize(1);
                assertThat(samples.get(0).value()).isEqualTo(3.0);
                assertThat(samples.get(0).labels()).containsAllEntriesOf(Map.of(
                        "__name__", "demo_pool_clients", "database", "app", "job", Prometheus.JOB));
                assertThat(prom.query("sum(demo_queries_total)")).singleElement()
                        .satisfies(s -> assertThat(s.value()).isEqualTo(42.0));
                assertThat(userAgents).isNotEmpty().allSatisfy(ua -> assertThat(ua).startsWith("Prometheus/"));
            }
        } finally {
            target.stop(0);
        }
    }
}
