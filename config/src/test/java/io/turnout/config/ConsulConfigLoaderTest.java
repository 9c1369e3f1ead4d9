package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.config.testing.TestCerts;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The consul: section, patroni_scope databases, wildcard templates and failover_hold_timeout. */
class ConsulConfigLoaderTest {
    @TempDir
    Path dir;

    private TurnoutConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "turnout.yaml", null, dir);
    }

    @Test
    void theDocumentedExampleLoads() throws Exception {
        TestCerts pki = TestCerts.generate(dir.resolve("pki"));
        Files.writeString(dir.resolve("consul.token"), "6f9c1c5e-token\n");
        TurnoutConfig c = parse("""
                auth_type: trust
                consul:
                  url: https://consul.service.consul:8501
                  namespace: /service/
                  token_file: consul.token
                  ca_file: pki/ca.pem
                  cert_file: pki/client.pem
                  key_file: pki/client-key-rsa.pem
                  verify: true
                  wait: 5m
                failover_hold_timeout: 45
                databases:
                  shard_a: { patroni_scope: shard-a, dbname: app }
                  "shard_*": { patroni_scope: "{db}" }
                  "pg_*": { patroni_scope: "pg-{db}-cluster", dbname: "{db}_app" }
                  legacy: { host: 10.0.0.9, port: 6000 }
                """);
        ConsulConfig consul = c.consul();
        assertThat(consul.urls()).containsExactly(URI.create("https://consul.service.consul:8501"));
        assertThat(consul.namespace()).isEqualTo("service");
        assertThat(consul.tokenFile()).isEqualTo(dir.resolve("consul.token"));
        assertThat(consul.caFile()).isEqualTo(dir.resolve("pki/ca.pem"));
        assertThat(consul.keyFile()).isEqualTo(dir.resolve("pki/client-key-rsa.pem"));
        assertThat(consul.verify()).isTrue();
        assertThat(consul.waitTime()).isEqualTo(Duration.ofMinutes(5));
        assertThat(c.pool().failoverHoldTimeout()).isEqualTo(Duration.ofSeconds(45));

        assertThat(c.databases()).containsOnlyKeys("shard_a", "legacy");
        assertThat(c.databaseTemplates()).containsOnlyKeys("shard_*", "pg_*");
        DatabaseConfig a = c.database("shard_a");
        assertThat(a.patroniScope()).isEqualTo("shard-a");
        assertThat(a.isPatroni()).isTrue();
        assertThat(a.host()).isNull();
        assertThat(a.dbname()).isEqualTo("app");
        DatabaseConfig z = c.database("shard_z");
        assertThat(z.name()).isEqualTo("shard_z");
        assertThat(z.patroniScope()).isEqualTo("shard_z");
        assertThat(z.dbname()).isEqualTo("shard_z");
        assertThat(z.isTemplate()).isFalse();
        DatabaseConfig pg = c.database("pg_eu");
        assertThat(pg.patroniScope()).isEqualTo("pg-pg_eu-cluster");
        assertThat(pg.dbname()).isEqualTo("pg_eu_app");
        assertThat(c.database("legacy").isPatroni()).isFalse();
        assertThat(c.database("shard_")).as("the * stands for at least one character").isNull();
        assertThat(c.database("other")).isNull();
        assertThat(c.databaseTemplates().get("shard_*").databaseForScope("shard_q")).isEqualTo("shard_q");
        assertThat(c.databaseTemplates().get("shard_*").databaseForScope("orders")).isNull();
        assertThat(c.databaseTemplates().get("pg_*").databaseForScope("pg-pg_us-cluster")).isEqualTo("pg_us");
        assertThat(c.databaseTemplates().get("shard_*").toString()).contains("patroni:{db}");
    }

    @Test
    void addressFormsAndDefaults() throws Exception {
        TurnoutConfig hostForm = parse("""
                auth_type: trust
                consul: { host: consul.local, scheme: https, verify: false, wait: 30s }
                databases: { d: { patroni_scope: d } }
                """);
        assertThat(hostForm.consul().urls()).containsExactly(URI.create("https://consul.local:8501"));
        assertThat(hostForm.consul().verify()).isFalse();
        assertThat(hostForm.consul().waitTime()).isEqualTo(Duration.ofSeconds(30));
        assertThat(hostForm.pool().failoverHoldTimeout()).isEqualTo(Duration.ofSeconds(30));

        TurnoutConfig list = parse("""
                auth_type: trust
                consul:
                  urls: [http://10.0.0.1:8500, "http://[fd00::2]:8500"]
                databases: { d: { patroni_scope: "{db}" } }
                """);
        assertThat(list.consul().urls()).containsExactly(URI.create("http://10.0.0.1:8500"), URI.create("http://[fd00::2]:8500"));
        assertThat(list.consul().namespace()).isEqualTo("service");
        assertThat(list.consul().waitTime()).isEqualTo(Duration.ofMinutes(5));
        assertThat(list.database("d").patroniScope()).as("{db} in a plain database is its own name").isEqualTo("d");

        TurnoutConfig plainHost = parse("auth_type: trust\nconsul: { host: 127.0.0.1, port: 18500 }\ndatabases: { d: { host: h } }\n");
        assertThat(plainHost.consul().urls()).containsExactly(URI.create("http://127.0.0.1:18500"));
        assertThat(parse("auth_type: trust\ndatabases: { d: { host: h } }\n").consul()).isNull();
    }

    @Test
    void misconfigurationsNameTheKeyAndLine() throws Exception {
        Files.writeString(dir.resolve("junk.pem"), "not a key\n");
        Files.writeString(dir.resolve("empty.token"), "\n");
        String db = "databases: { d: { patroni_scope: d } }\n";
        List<String[]> cases = List.of(
                new String[] {"consul: { url: http://c:8500 }\ndatabases:\n  d: { host: h, patroni_scope: d }\n",
                    "turnout.yaml:4: databases.d.patroni_scope: host and patroni_scope are exclusive"},
                new String[] {"databases:\n  d: { patroni_scope: d }\n",
                    "turnout.yaml:3: databases.d.patroni_scope: needs a consul: or etcd: section"},
                new String[] {"consul: { url: http://c:8500 }\ndatabases:\n  d: { patroni_scope: d, port: 5432 }\n",
                    "turnout.yaml:4: databases.d.port: a patroni_scope database takes its port"},
                new String[] {"consul: { url: http://c:8500 }\ndatabases:\n  d: { dbname: x }\n",
                    "turnout.yaml:4: databases.d: host or patroni_scope is required"},
                new String[] {"consul: { url: http://c:8500 }\ndatabases:\n  \"sh*r*d\": { patroni_scope: x }\n",
                    "turnout.yaml:4: databases.sh*r*d: only one * is supported in a database name"},
                new String[] {"consul:\n  url: http://c:8500\n  token_file: missing.token\n" + db,
                    "turnout.yaml:4: consul.token_file: cannot read"},
                new String[] {"consul:\n  url: http://c:8500\n  token_file: empty.token\n" + db,
                    "turnout.yaml:4: consul.token_file: "},
                new String[] {"consul:\n  host: https://consul:8500\n" + db,
                    "turnout.yaml:3: consul.host: is a host name; for a full URL with scheme write url: https://consul:8500"},
                new String[] {"consul:\n  url: consul:8500\n" + db,
                    "turnout.yaml:3: consul.url: expected a URL with scheme and host"},
                new String[] {"consul:\n  url: http://c:8500\n  host: c\n" + db,
                    "turnout.yaml:4: consul.host: url and host are alternatives"},
                new String[] {"consul:\n  url: http://c:8500\n  port: 8500\n" + db,
                    "turnout.yaml:4: consul.port: goes with host:"},
                new String[] {"consul:\n  namespace: service\n" + db,
                    "turnout.yaml:3: consul: give url:"},
                new String[] {"consul:\n  url: http://c:8500\n  ca_file: junk.pem\n" + db,
                    "turnout.yaml:4: consul.ca_file: only applies to https://"},
                new String[] {"consul:\n  url: https://c:8501\n  ca_file: junk.pem\n" + db,
                    "turnout.yaml:4: consul.ca_file: "},
                new String[] {"consul:\n  url: https://c:8501\n  cert_file: junk.pem\n" + db,
                    "turnout.yaml:4: consul.cert_file: needs key_file"},
                new String[] {"consul:\n  url: http://c:8500\n  wait: 20m\n" + db,
                    "turnout.yaml:4: consul.wait: must be between 1s and 10m"},
                new String[] {"consul:\n  url: http://c:8500\n  tokenfile: x\n" + db,
                    "turnout.yaml:4: consul.tokenfile: unknown key"},
                new String[] {"consul: { url: http://c:8500 }\nfailover_hold_timeout: soon\n" + db,
                    "turnout.yaml:3: failover_hold_timeout: expected a duration"});
        for (String[] c : cases) {
            assertThatThrownBy(() -> parse("auth_type: trust\n" + c[0])).as(c[0]).hasMessageStartingWith(c[1]);
        }
        assertThatThrownBy(() -> parse("auth_type: trust\nconsul:\n  url: https://c:8501\n  ca_file: junk.pem\n" + db))
                .hasMessageContaining("no -----BEGIN CERTIFICATE----- block");
    }

    @Test
    void adminSetTakesTheHoldTimeoutButNotTheConsulSection() throws Exception {
        String yaml = "auth_type: trust\nconsul: { url: http://c:8500 }\ndatabases: { d: { patroni_scope: d } }\n";
        TurnoutConfig c = ConfigLoader.parse(yaml, "turnout.yaml", null, dir, java.util.Map.of("failover_hold_timeout", "5"));
        assertThat(c.pool().failoverHoldTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThatThrownBy(() -> ConfigLoader.parse(yaml, "turnout.yaml", null, dir, java.util.Map.of("consul", "x")))
                .hasMessage("SET: unknown parameter 'consul'");
    }
}
