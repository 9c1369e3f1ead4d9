package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.config.testing.TestCerts;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The etcd: section: Patroni's etcd3 address forms, auth, TLS, and consul: vs etcd:. */
class EtcdConfigLoaderTest {
    @TempDir
    Path dir;

    private TurnoutConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "turnout.yaml", null, dir);
    }

    @Test
    void theDocumentedExampleLoads() throws Exception {
        TestCerts.generate(dir.resolve("pki"));
        Files.writeString(dir.resolve("etcd.password"), "s3cret\n");
        TurnoutConfig c = parse("""
                auth_type: trust
                etcd:
                  hosts: [10.0.0.1:2379, 10.0.0.2:2379, "[fd00::3]:2379"]
                  protocol: https
                  namespace: /service/
                  username: turnout
                  password_file: etcd.password
                  ca_file: pki/ca.pem
                  cert_file: pki/client.pem
                  key_file: pki/client-key-rsa.pem
                databases:
                  shard_a: { patroni_scope: shard-a, dbname: app }
                  "shard_*": { patroni_scope: "{db}" }
                """);
        EtcdConfig e = c.etcd();
        assertThat(c.consul()).isNull();
        assertThat(e.urls()).containsExactly(URI.create("https://10.0.0.1:2379"), URI.create("https://10.0.0.2:2379"),
                URI.create("https://[fd00::3]:2379"));
        assertThat(e.namespace()).isEqualTo("service");
        assertThat(e.username()).isEqualTo("turnout");
        assertThat(e.password()).isNull();
        assertThat(e.passwordFile()).isEqualTo(dir.resolve("etcd.password"));
        assertThat(e.caFile()).isEqualTo(dir.resolve("pki/ca.pem"));
        assertThat(e.verify()).isTrue();
        assertThat(e.toString()).doesNotContain("s3cret");
        assertThat(c.database("shard_a").patroniScope()).isEqualTo("shard-a");
        assertThat(c.database("shard_7").patroniScope()).isEqualTo("shard_7");
    }

    @Test
    void addressFormsAndDefaults() throws Exception {
        String db = "databases: { d: { patroni_scope: d } }\n";
        assertThat(parse("auth_type: trust\netcd: { host: etcd-1 }\n" + db).etcd().urls())
                .containsExactly(URI.create("http://etcd-1:2379"));
        assertThat(parse("auth_type: trust\netcd: { hosts: \"127.0.0.1:2379,127.0.0.2:22379\" }\n" + db).etcd().urls())
                .as("Patroni's comma-separated string").containsExactly(URI.create("http://127.0.0.1:2379"),
                        URI.create("http://127.0.0.2:22379"));
        EtcdConfig urls = parse("auth_type: trust\netcd:\n  urls: [http://a:2379, \"https://b:2379\"]\n"
                + "  username: u\n  password: p\n  verify: false\n" + db).etcd();
        assertThat(urls.urls()).containsExactly(URI.create("http://a:2379"), URI.create("https://b:2379"));
        assertThat(urls.password()).isEqualTo("p");
        assertThat(urls.verify()).isFalse();
        assertThat(urls.namespace()).isEqualTo("service");
        assertThat(parse("auth_type: trust\netcd: { url: \"http://[::1]:2379\" }\n" + db).etcd().urls())
                .containsExactly(URI.create("http://[::1]:2379"));
    }

    @Test
    void misconfigurationsNameTheKeyAndLine() throws Exception {
        Files.writeString(dir.resolve("junk.pem"), "not a cert\n");
        Files.writeString(dir.resolve("empty.password"), "\n");
        String db = "databases: { d: { patroni_scope: d } }\n";
        List<String[]> cases = List.of(
                new String[] {"consul: { url: http://c:8500 }\netcd: { host: e }\n" + db,
                    "turnout.yaml:3: etcd: consul: and etcd: are alternatives"},
                new String[] {"etcd:\n  namespace: service\n" + db, "turnout.yaml:3: etcd: give hosts:"},
                new String[] {"etcd:\n  host: e\n  hosts: [e]\n" + db, "turnout.yaml:4: etcd.hosts: host and hosts are alternatives"},
                new String[] {"etcd:\n  hosts: [\"https://e:2379\"]\n" + db,
                    "turnout.yaml:3: etcd.hosts: takes host:port; for a full URL with scheme write url: https://e:2379"},
                new String[] {"etcd:\n  hosts: [\"e:99999\"]\n" + db, "turnout.yaml:3: etcd.hosts: bad port in 'e:99999'"},
                new String[] {"etcd:\n  url: e:2379\n" + db, "turnout.yaml:3: etcd.url: expected a URL with scheme and host"},
                new String[] {"etcd:\n  url: \"http://u:p@e:2379\"\n" + db,
                    "turnout.yaml:3: etcd.url: takes no user, query or fragment (a user and password go in username:"},
                new String[] {"etcd:\n  url: http://e:2379\n  protocol: https\n" + db,
                    "turnout.yaml:4: etcd.protocol: goes with host:/hosts:"},
                new String[] {"etcd:\n  host: e\n  protocol: grpc\n" + db, "turnout.yaml:4: etcd.protocol: expected http or https"},
                new String[] {"etcd:\n  host: e\n  username: u\n" + db, "turnout.yaml:4: etcd.username: needs password or password_file"},
                new String[] {"etcd:\n  host: e\n  password: p\n" + db, "turnout.yaml:4: etcd.password: needs username"},
                new String[] {"etcd:\n  host: e\n  username: u\n  password: p\n  password_file: empty.password\n" + db,
                    "turnout.yaml:6: etcd.password_file: password and password_file are alternatives"},
                new String[] {"etcd:\n  host: e\n  username: u\n  password_file: empty.password\n" + db,
                    "turnout.yaml:5: etcd.password_file: "},
                new String[] {"etcd:\n  host: e\n  username: u\n  password_file: missing\n" + db,
                    "turnout.yaml:5: etcd.password_file: cannot read"},
                new String[] {"etcd:\n  host: e\n  ca_file: junk.pem\n" + db, "turnout.yaml:4: etcd.ca_file: only applies to https"},
                new String[] {"etcd:\n  host: e\n  protocol: https\n  ca_file: junk.pem\n" + db,
                    "turnout.yaml:5: etcd.ca_file: "},
                new String[] {"etcd:\n  host: e\n  protocol: https\n  key_file: junk.pem\n" + db,
                    "turnout.yaml:5: etcd.key_file: needs cert_file"},
                new String[] {"etcd:\n  host: e\n  namespace: /\n" + db, "turnout.yaml:4: etcd.namespace: must not be empty"},
                new String[] {"etcd:\n  host: e\n  cacert: x\n" + db, "turnout.yaml:4: etcd.cacert: unknown key"});
        for (String[] c : cases) {
            assertThatThrownBy(() -> parse("auth_type: trust\n" + c[0])).as(c[0]).hasMessageStartingWith(c[1]);
        }
        assertThatThrownBy(() -> ConfigLoader.parse("auth_type: trust\netcd: { host: e }\n" + db, "turnout.yaml", null,
                dir, java.util.Map.of("etcd", "x"))).hasMessage("SET: unknown parameter 'etcd'");
    }
}
