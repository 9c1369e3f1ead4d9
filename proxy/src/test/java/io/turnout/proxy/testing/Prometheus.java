package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Prometheus server (Debian's {@code prometheus} package) scraping one target, and {@code promtool check
 * metrics}, for tests of Turnout's /metrics.
 *
 * <p>{@link #start} runs {@code /usr/bin/prometheus} on a free 127.0.0.1 port with its config and TSDB in a fresh
 * {@code /tmp/turnout-prom-*} directory, scraping job {@value #JOB}. Prometheus does not refuse to run as root,
 * so it runs as whoever the JVM is. {@link #close()} kills it and deletes the directory; a shutdown hook does
 * the same at JVM exit, and the next JVM reaps what a killed one left.
 */
public final class Prometheus implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Prometheus.class);

    /** The job name of the one scrape config. */
    public static final String JOB = "turnout";
    public static final String HOST = "127.0.0.1";

    private static final Path BIN = Path.of(System.getenv().getOrDefault("PROMETHEUS_BIN", "/usr/bin"));
    private static final String DIR_PREFIX = "turnout-prom-";
    private static final Duration AWAIT = Duration.ofSeconds(90);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final Set<Prometheus> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Prometheus::close), "prometheus-shutdown"));
    }

    /** One element of an instant vector (or a scalar, with no labels). */
    public record Sample(Map<String, String> labels, double value) {}

    private final Path dir;
    private final int port;
    private final ServerProcess process;

    private Prometheus(Path dir, int port) {
        this.dir = dir;
        this.port = port;
        this.process = new ServerProcess("prometheus", List.of(BIN.resolve("prometheus").toString(),
                "--config.file=" + dir.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=" + HOST + ":" + port,
                "--log.level=info"), dir);
    }

    /** Installs Debian's {@code prometheus} package (both programs) if either is missing; fails if it cannot. */
    public static void ensureInstalled() {
        DebianPackages.ensure("prometheus", List.of(BIN.resolve("prometheus"), BIN.resolve("promtool")));
    }

    /**
     * Runs {@code promtool check metrics} on a text exposition and returns what it objects to: one entry per
     * lint problem ({@code metric_name text}) or parse error it printed, plus one naming its exit code if that
     * is not 0. Empty means the exposition is clean.
     */
    public static List<String> checkMetrics(String exposition) {
        ensureInstalled();
        Processes.Result r = Processes.run(Duration.ofSeconds(30),
                List.of(BIN.resolve("promtool").toString(), "check", "metrics"), Map.of(), null, exposition);
        List<String> problems = new ArrayList<>();
        // 2.42 prints problems on stderr; later versions moved some to stdout
        Stream.concat(r.stdout().lines(), r.stderr().lines()).filter(l -> !l.isBlank()).forEach(problems::add);
        if (!r.ok()) {
            problems.add("promtool check metrics exited with code " + r.exitCode());
        }
        return problems;
    }

    /**
     * Starts Prometheus scraping {@code http://<targetHostPort><metricsPath>} every {@code scrapeInterval} under
     * job {@value #JOB}, and waits until it is ready to serve queries (not until it has scraped: see
     * {@link #awaitScrape}).
     */
    public static Prometheus start(String targetHostPort, String metricsPath, Duration scrapeInterval) {
        ensureInstalled();
        OwnedDirs.reapStale(DIR_PREFIX);
        Path dir = OwnedDirs.create(DIR_PREFIX, false);
        try {
            String interval = scrapeInterval.toMillis() + "ms";
            Files.writeString(dir.resolve("prometheus.yml"), String.join("\n",
                    "global:",
                    "  scrape_interval: " + interval,
                    "  scrape_timeout: " + interval, // the default 10s must not exceed the interval
                    "  evaluation_interval: " + interval,
                    "scrape_configs:",
                    "  - job_name: " + JOB,
                    "    metrics_path: '" + metricsPath + "'",
                    "    static_configs:",
                    "      - targets: ['" + targetHostPort + "']",
                    ""));
        } catch (IOException e) {
            OwnedDirs.deleteTree(dir);
            throw new UncheckedIOException("cannot write the Prometheus config in " + dir, e);
        }
        long t0 = System.nanoTime();
        try {
            Prometheus prom = FreePorts.retry("Prometheus", () -> {
                Prometheus p = new Prometheus(dir, FreePorts.pick());
                p.process.startAndAwait(AWAIT, p::ready);
                return p;
            });
            LIVE.add(prom);
            log.info("Prometheus on {}:{} scraping {}{} every {} in {} ({} ms)", HOST, prom.port, targetHostPort,
                    metricsPath, scrapeInterval, dir, (System.nanoTime() - t0) / 1_000_000);
            return prom;
        } catch (RuntimeException | AssertionError e) {
            OwnedDirs.deleteTree(dir);
            throw e;
        }
    }

    public String baseUrl() {
        return "http://" + HOST + ":" + port;
    }

    public int port() {
        return port;
    }

    /** Runs an instant query (/api/v1/query) and returns its vector, or its scalar as one label-less sample. */
    public List<Sample> query(String promql) {
        JsonNode data = api("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        String type = data.path("resultType").asText();
        JsonNode result = data.path("result");
        List<Sample> samples = new ArrayList<>();
        switch (type) {
            case "vector" -> result.forEach(e -> {
                Map<String, String> labels = new LinkedHashMap<>();
                e.path("metric").properties().forEach(f -> labels.put(f.getKey(), f.getValue().asText()));
                samples.add(new Sample(Map.copyOf(labels), value(e.path("value"))));
            });
            case "scalar" -> samples.add(new Sample(Map.of(), value(result)));
            default -> throw new AssertionError("query " + promql + " returned a " + type + ", not a vector: " + data);
        }
        return samples;
    }

    /** GETs an HTTP API path and returns its {@code data} after checking {@code status} is {@code success}. */
    public JsonNode api(String pathAndQuery) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(baseUrl() + pathAndQuery))
                .timeout(Duration.ofSeconds(10)).GET().build();
        try {
            HttpResponse<String> resp = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
            JsonNode body = JSON.readTree(resp.body());
            if (resp.statusCode() != 200 || !"success".equals(body.path("status").asText())) {
                throw new AssertionError("GET " + pathAndQuery + " answered " + resp.statusCode() + ": " + resp.body());
            }
            return body.path("data");
        } catch (IOException e) {
            throw new UncheckedIOException("GET " + baseUrl() + pathAndQuery, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /**
     * Waits until {@code job}'s target is up (/api/v1/targets) and its {@code up} series answers 1. The scrape
     * loop commits a scrape's samples together with {@code up}, so after this they can be queried. Expect about
     * 5 s after {@link #start} whatever the interval: Prometheus 2.42 applies new targets at most every 5 s.
     */
    public void awaitScrape(String job) {
        Await.until("job " + job + " to be scraped", AWAIT, () -> {
            boolean up = false;
            for (JsonNode t : api("/api/v1/targets?state=active").path("activeTargets")) {
                up |= job.equals(t.path("labels").path("job").asText()) && "up".equals(t.path("health").asText());
            }
            return up && query("up{job=\"" + job + "\"} == 1").size() == 1;
        }, () -> "targets: " + api("/api/v1/targets?state=active").path("activeTargets")
                + "\n--- prometheus.log (tail) ---\n" + logTail(30));
    }

    /** The last {@code lines} lines of Prometheus's own log, for failure messages. */
    public String logTail(int lines) {
        return process.logTail(lines);
    }

    /** Kills Prometheus and deletes its directory (config, TSDB, log). */
    @Override
    public void close() {
        if (LIVE.remove(this)) {
            process.kill();
            OwnedDirs.deleteTree(dir);
        }
    }

    @Override
    public String toString() {
        return "Prometheus[" + baseUrl() + ", " + dir + "]";
    }

    // ------------------------------------------------------------------------------------------ internals

    /** Whether GET /-/ready answers 200 (false while Prometheus is not listening yet). */
    private boolean ready() {
        HttpRequest req = HttpRequest.newBuilder(URI.create(baseUrl() + "/-/ready"))
                .timeout(Duration.ofSeconds(5)).GET().build();
        try {
            return HTTP.send(req, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static double value(JsonNode pair) {
        // [ <unix time>, "<value>" ]: the value is a string so that NaN and +Inf survive JSON
        return Double.parseDouble(pair.path(1).asText());
    }
}
