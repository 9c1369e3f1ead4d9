package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.ConfigLoader;
import io.turnout.config.DatabaseConfig;
import io.turnout.config.TurnoutConfig;
import io.turnout.proxy.testing.DebianPackages;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.Prometheus;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * docker/: no Docker engine runs here, so the demo is checked by the tools that read each file (docker-compose
 * config, haproxy -c, promtool check config, ConfigLoader) and by cross-checking names and ports between them.
 */
class DockerFilesTest {
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path DOCKER = ROOT.resolve("docker");
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
    private static final int METRICS_PORT = 9127;
    private static final List<String> TURNOUTS = List.of("turnout-1", "turnout-2");

    @TempDir
    Path tmp;

    @SuppressWarnings("unchecked")
    static Map<String, Object> yaml(Path file) throws Exception {
        return (Map<String, Object>) new Yaml(new SafeConstructor(new LoaderOptions())).load(Files.readString(file));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Map<String, Object>> services() throws Exception {
        return (Map<String, Map<String, Object>>) yaml(DOCKER.resolve("compose.yaml")).get("services");
    }

    /** A service's bind mounts: container path to host path (resolved against docker/). */
    @SuppressWarnings("unchecked")
    private static Map<String, Path> mounts(Map<String, Object> service) {
        Map<String, Path> mounts = new LinkedHashMap<>();
        for (String v : (List<String>) service.getOrDefault("volumes", List.of())) {
            String[] parts = v.split(":");
            assertThat(parts[0]).as("a bind mount relative to docker/: " + v).startsWith(".");
            mounts.put(parts[1], DOCKER.resolve(parts[0]).normalize());
        }
        return mounts;
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyFileTheComposeFileNamesExists() throws Exception {
        Map<String, Map<String, Object>> services = services();
        assertThat(services).containsKeys("consul", "shard-a-1", "shard-a-2", "shard-b-1", "shard-b-2",
                "turnout-1", "turnout-2", "haproxy", "prometheus", "grafana");
        for (Map.Entry<String, Map<String, Object>> s : services.entrySet()) {
            Map<String, Object> svc = s.getValue();
            Object build = svc.get("build");
            if (build != null) {
                Map<String, Object> b = build instanceof String ctx ? Map.of("context", ctx) : (Map<String, Object>) build;
                Path context = DOCKER.resolve((String) b.get("context")).normalize();
                assertThat(context).as(s.getKey() + " build context").isDirectory();
                assertThat(context.resolve((String) b.getOrDefault("dockerfile", "Dockerfile")))
                        .as(s.getKey() + " Dockerfile").isRegularFile();
            }
            Map<String, Path> mounts = mounts(svc);
            mounts.forEach((target, host) -> assertThat(host).as(s.getKey() + " mount for " + target).exists());
            // a command naming a file in the container must name one that a mount provides
            for (Object arg : (List<Object>) (svc.get("command") instanceof List<?> l ? l : List.of())) {
                mounts.forEach((target, host) -> {
                    if (arg.toString().startsWith(target + "/")) {
                        assertThat(host.resolve(arg.toString().substring(target.length() + 1)))
                                .as(s.getKey() + " command file " + arg).isRegularFile();
                    }
                });
            }
        }
    }

    @Test
    void dockerComposeAcceptsTheFile() {
        DebianPackages.ensure("docker-compose", List.of(Path.of("/usr/bin/docker-compose")));
        Processes.Result r = Processes.run(TOOL_TIMEOUT, List.of("docker-compose", "-f",
                DOCKER.resolve("compose.yaml").toString(), "config", "-q"), Map.of(), ROOT, null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stderr()).isEmpty();
    }

    @Test
    void eachTurnoutConfigLoadsAndIsMountedForItsInstance() throws Exception {
        Map<String, Map<String, Object>> services = services();
        for (int i = 1; i <= TURNOUTS.size(); i++) {
            Path file = DOCKER.resolve("turnout/turnout-" + i + ".yaml");
            assertThat(mounts(services.get("turnout-" + i))).containsEntry("/etc/turnout/turnout.yaml", file)
                    .containsEntry("/etc/turnout/users.txt", DOCKER.resolve("turnout/users.txt"));
            TurnoutConfig c = ConfigLoader.load(file);
            assertThat(c.listenAddr()).isEqualTo("0.0.0.0");
            assertThat(c.listenPort()).isEqualTo(6432);
            assertThat(c.metricsPort()).isEqualTo(METRICS_PORT);
            assertThat(c.metricsAddr()).isEqualTo("0.0.0.0");
            assertThat(c.consul().urls()).containsExactly(URI.create("http://consul:8500"));
            assertThat(c.databases()).containsOnlyKeys("shard_a", "shard_b");
            for (DatabaseConfig d : c.databases().values()) {
                assertThat(d.patroniScope()).isEqualTo(d.name());
                assertThat(Files.readString(DOCKER.resolve("patroni/" + d.name() + ".yml"))).contains("scope: " + d.name());
            }
            assertThat(c.users()).containsKeys("app", "ops", "exporter");
            assertThat(Files.readString(DOCKER.resolve("patroni/post_bootstrap.sh")))
                    .as("the role Turnout logs in as exists with the password users.txt has")
                    .contains("CREATE ROLE app LOGIN PASSWORD '" + c.users().get("app") + "'");
        }
    }

    /** The paired-deployment keys stay commented out exactly as long as ConfigLoader rejects them. */
    @Test
    void eachInstanceIsConfiguredForThePair() throws Exception {
        for (int i = 1; i <= TURNOUTS.size(); i++) {
            Path file = DOCKER.resolve("turnout/turnout-" + i + ".yaml");
            var n = ConfigLoader.load(file).network();
            assertThat(n.proxyProtocol()).as(file + " takes HAProxy's PROXY v2").isTrue();
            assertThat(n.proxyTrusted()).isNotEmpty();
            assertThat(n.peerId()).isEqualTo(i);
            assertThat(n.peers()).hasSize(TURNOUTS.size() - 1).doesNotContainKey(i);
            assertThat(n.soReuseport()).isTrue();
            assertThat(n.drainTimeout()).isEqualTo(java.time.Duration.ofSeconds(300));
        }
    }

    @Test
    void haproxyAcceptsItsConfigAndChecksEachTurnoutsReadyEndpoint() throws Exception {
        DebianPackages.ensure("haproxy", List.of(Path.of("/usr/sbin/haproxy")));
        Path cfg = DOCKER.resolve("haproxy/haproxy.cfg");
        Processes.Result r = Processes.run(TOOL_TIMEOUT, List.of("/usr/sbin/haproxy", "-c", "-f", cfg.toString()));
        String out = r.stdout() + r.stderr();
        assertThat(r.exitCode()).as(out).isZero();
        assertThat(out).contains("Configuration file is valid").doesNotContain("[WARNING]", "[ALERT]");
        String text = Files.readString(cfg);
        assertThat(text).contains("mode tcp", "send-proxy-v2", "http-check send meth GET uri /ready",
                "check port " + METRICS_PORT, "init-addr none");
        for (String t : TURNOUTS) {
            assertThat(text).contains("server " + t + " " + t + ":6432");
        }
        assertThat(mounts(services().get("haproxy"))).containsEntry("/usr/local/etc/haproxy/haproxy.cfg", cfg);
    }

    @Test
    @SuppressWarnings("unchecked")
    void prometheusAcceptsItsConfigAndScrapesBothTurnouts() throws Exception {
        Prometheus.ensureInstalled();
        Path cfg = DOCKER.resolve("prometheus/prometheus.yml");
        Processes.Result r = Processes.run(TOOL_TIMEOUT, List.of("promtool", "check", "config", cfg.toString()));
        assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
        assertThat(r.stdout() + r.stderr()).contains("SUCCESS");
        List<Object> jobs = (List<Object>) yaml(cfg).get("scrape_configs");
        Map<String, Object> job = (Map<String, Object>) jobs.get(0);
        List<Object> targets = (List<Object>) ((Map<String, Object>) ((List<Object>) job.get("static_configs")).get(0))
                .get("targets");
        assertThat(targets).containsExactly(TURNOUTS.stream().map(t -> t + ":" + METRICS_PORT).toArray());
        assertThat(mounts(services().get("prometheus"))).containsEntry("/etc/prometheus/prometheus.yml", cfg);
    }

    @Test
    @SuppressWarnings("unchecked")
    void grafanaIsProvisionedWithPrometheusAndTheDashboard() throws Exception {
        Map<String, Path> mounts = mounts(services().get("grafana"));
        Path provisioning = mounts.get("/etc/grafana/provisioning");
        assertThat(provisioning).isEqualTo(DOCKER.resolve("grafana/provisioning"));
        Map<String, Object> ds = (Map<String, Object>) ((List<Object>) yaml(provisioning.resolve("datasources/prometheus.yml"))
                .get("datasources")).get(0);
        assertThat(ds).containsEntry("type", "prometheus").containsEntry("url", "http://prometheus:9090")
                .containsEntry("isDefault", true);
        assertThat(services()).containsKey("prometheus");
        Map<String, Object> provider = (Map<String, Object>) ((List<Object>) yaml(provisioning.resolve("dashboards/turnout.yml"))
                .get("providers")).get(0);
        String dir = (String) ((Map<String, Object>) provider.get("options")).get("path");
        assertThat(mounts).containsEntry(dir + "/turnout-dashboard.json", DOCKER.resolve("grafana/turnout-dashboard.json"));
        // the dashboard picks its data source by type, so the provisioned default serves it
        assertThat(Files.readString(DOCKER.resolve("grafana/turnout-dashboard.json")))
                .contains("\"uid\": \"${datasource}\"").contains("\"query\": \"prometheus\"");
    }
}
