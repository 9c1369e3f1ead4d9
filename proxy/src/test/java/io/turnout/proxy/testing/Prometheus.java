package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
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
 * the same at JVM exit, and the next JVM reaps what a killed one left (as PgServer does).
 */
public final class Prometheus implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Prometheus.class);

    /** The job name of the one scrape config. */
    public static final String JOB = "turnout";
    public static final String HOST = "127.0.0.1";

    private static final Path BIN = Path.of(System.getenv().getOrDefault("PROMETHEUS_BIN", "/usr/bin"));
    private static final String DIR_PREFIX = "turnout-prom-";
    private static final Duration AWAIT = Duration.ofSeconds(60);
    private static final int PORT_ATTEMPTS = 5;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final Set<Prometheus> LIVE = ConcurrentHashMap.newKeySet();
    private static volatile boolean reaped;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Prometheus::close), "prometheus-shutdown"));
    }

    /** One element of an instant vector (or a scalar, with no labels). */
    public record Sample(Map<String, String> labels, double value) {}

    private final Path dir;
    private final int port;
    private final Process process;

    private Prometheus(Path dir, int port, Process process) {
        this.dir = dir;
        this.port = port;
        this.process = process;
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
        reapStaleDirs();
        Path dir;
        try {
            dir = Files.createTempDirectory(Path.of("/tmp"), DIR_PREFIX);
            Files.writeString(dir.resolve("owner"), tag(ProcessHandle.current()));
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
            throw new UncheckedIOException("cannot create the Prometheus test directory under /tmp", e);
        }
        long t0 = System.nanoTime();
        for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
            int port = freePort();
            Process p = launch(dir, port);
            Prometheus prom = new Prometheus(dir, port, p);
            LIVE.add(prom);
            if (prom.awaitReady()) {
                log.info("Prometheus on {}:{} scraping {}{} every {} in {} ({} ms)", HOST, port, targetHostPort,
                        metricsPath, scrapeInterval, dir, (System.nanoTime() - t0) / 1_000_000);
                return prom;
            }
            String tail = prom.logTail(30);
            Processes.destroyTree(p);
            LIVE.remove(prom);
            if (!tail.contains("address already in use") || attempt == PORT_ATTEMPTS) {
                OwnedDirs.deleteTree(dir);
                throw new IllegalStateException("Prometheus did not become ready on port " + port
                        + "\n--- prometheus.log (tail) ---\n" + tail);
            }
            log.info("port {} was taken before Prometheus could bind it; retrying on another", port);
        }
        throw new AssertionError("unreachable");
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
        long deadline = System.nanoTime() + AWAIT.toNanos();
        JsonNode targets = null;
        while (System.nanoTime() < deadline) {
            targets = api("/api/v1/targets?state=active").path("activeTargets");
            boolean up = false;
            for (JsonNode t : targets) {
                up |= job.equals(t.path("labels").path("job").asText()) && "up".equals(t.path("health").asText());
            }
            if (up && query("up{job=\"" + job + "\"} == 1").size() == 1) {
                return;
            }
            sleep(Duration.ofMillis(100));
        }
        throw new AssertionError("job " + job + " was not scraped within " + AWAIT.toSeconds() + " s; targets: "
                + targets + "\n--- prometheus.log (tail) ---\n" + logTail(30));
    }

    /** The last {@code lines} lines of Prometheus's own log, for failure messages. */
    public String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(dir.resolve("prometheus.log"), StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (NoSuchFileException e) {
            return "(no prometheus.log)";
        } catch (IOException e) {
            return "(cannot read prometheus.log: " + e + ")";
        }
    }

    /** Kills Prometheus and deletes its directory (config, TSDB, log). */
    @Override
    public void close() {
        if (LIVE.remove(this)) {
            Processes.destroyTree(process);
            OwnedDirs.deleteTree(dir);
        }
    }

    @Override
    public String toString() {
        return "Prometheus[" + baseUrl() + ", " + dir + "]";
    }

    // ------------------------------------------------------------------------------------------ internals

    private static Process launch(Path dir, int port) {
        Path data = dir.resolve("data");
        ProcessBuilder pb = new ProcessBuilder(BIN.resolve("prometheus").toString(),
                "--config.file=" + dir.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + data,
                "--web.listen-address=" + HOST + ":" + port,
                "--log.level=info")
                .directory(dir.toFile())
                .redirectErrorStream(true)
                // a file, not a pipe nobody drains: Prometheus logs for as long as it runs
                .redirectOutput(dir.resolve("prometheus.log").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        try {
            Process p = pb.start();
            Files.writeString(dir.resolve("pid"), tag(p.toHandle()));
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + BIN.resolve("prometheus"), e);
        }
    }

    /** Polls /-/ready; false if Prometheus exited or did not get ready in time. */
    private boolean awaitReady() {
        long deadline = System.nanoTime() + AWAIT.toNanos();
        HttpRequest req = HttpRequest.newBuilder(URI.create(baseUrl() + "/-/ready"))
                .timeout(Duration.ofSeconds(5)).GET().build();
        while (System.nanoTime() < deadline && process.isAlive()) {
            try {
                if (HTTP.send(req, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return true;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
            sleep(Duration.ofMillis(100));
        }
        return false;
    }

    /** "pid start-instant": a pid alone could name an unrelated process after a reboot or pid wrap. */
    private static String tag(ProcessHandle h) {
        return h.pid() + " " + h.info().startInstant().map(Instant::toString).orElse("?") + "\n";
    }

    private static ProcessHandle tagged(Path file) throws IOException {
        String[] t = Files.readString(file).strip().split(" ");
        return ProcessHandle.of(Long.parseLong(t[0]))
                .filter(h -> h.isAlive() && h.info().startInstant().map(Instant::toString).orElse("?").equals(t[1]))
                .orElse(null);
    }

    /** Kills and removes the servers of JVMs that died without running their shutdown hook. Once per JVM. */
    private static synchronized void reapStaleDirs() {
        if (reaped) {
            return;
        }
        reaped = true;
        try (Stream<Path> dirs = Files.list(Path.of("/tmp"))) {
            for (Path d : dirs.filter(x -> x.getFileName().toString().startsWith(DIR_PREFIX)).toList()) {
                try {
                    if (tagged(d.resolve("owner")) != null) {
                        continue;
                    }
                    ProcessHandle server = Files.exists(d.resolve("pid")) ? tagged(d.resolve("pid")) : null;
                    if (server != null) {
                        Processes.destroyTree(server);
                    }
                } catch (IOException | RuntimeException e) {
                    continue; // half-written tags: a JVM is starting one right now; leave it alone
                }
                log.info("removing stale Prometheus test directory {}", d);
                OwnedDirs.deleteTree(d);
            }
        } catch (IOException e) {
            log.warn("could not clean up stale Prometheus test directories: {}", e.toString());
        }
    }

    private static double value(JsonNode pair) {
        // [ <unix time>, "<value>" ]: the value is a string so that NaN and +Inf survive JSON
        return Double.parseDouble(pair.path(1).asText());
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free TCP port on " + HOST, e);
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
