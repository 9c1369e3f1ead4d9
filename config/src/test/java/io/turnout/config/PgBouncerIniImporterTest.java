package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.config.PgBouncerIniImporter.Result;
import io.turnout.config.PgBouncerIniImporter.Warning;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The importer on a pgbouncer.ini shaped like the seed deployment's (twelve shards, transaction pooling,
 * SCRAM, TLS from clients, a '*' fallback, an %include) and on the sample Debian's pgbouncer package ships.
 */
class PgBouncerIniImporterTest {
    @TempDir
    Path dir;

    private Path copy(String resource) throws IOException {
        Path to = dir.resolve(resource);
        try (InputStream in = getClass().getResourceAsStream("/pgbouncer/" + resource)) {
            assertThat(in).as("test resource pgbouncer/" + resource).isNotNull();
            Files.copy(in, to);
        }
        return to;
    }

    private Result importSeed() throws Exception {
        Path ini = copy("pgbouncer.ini");
        copy("pgbouncer-local.ini");
        Path userlist = copy("userlist.txt");
        return PgBouncerIniImporter.importFile(ini, userlist);
    }

    @Test
    void seedDeploymentBecomesThisYaml() throws Exception {
        assertThat(importSeed().yaml()).isEqualTo("""
                # Turnout configuration imported from INI/pgbouncer.ini by `turnout import-pgbouncer`.
                # What could not be carried over was printed as warnings; '# file:line' says where a value came from.
                # To follow Patroni leaders from Consul rather than fixed hosts, give a database patroni_scope:
                # instead of host:/port: and add a consul: section (README: Sharded Patroni databases from Consul).
                listen_addr: 0.0.0.0  # INI/pgbouncer.ini:29
                listen_port: 6432  # INI/pgbouncer.ini:30
                auth_type: scram-sha-256  # INI/pgbouncer.ini:32
                auth_file: userlist.txt  # INI/pgbouncer.ini:33
                pool_mode: transaction  # INI/pgbouncer.ini:36
                default_pool_size: 20  # INI/pgbouncer.ini:37
                min_pool_size: 5  # INI/pgbouncer.ini:38
                reserve_pool_size: 5  # INI/pgbouncer.ini:39
                reserve_pool_timeout: 3  # INI/pgbouncer.ini:40
                max_client_conn: 8000  # INI/pgbouncer-local.ini:3
                max_db_connections: 60  # INI/pgbouncer.ini:42
                query_wait_timeout: 60  # INI/pgbouncer.ini:47
                idle_transaction_timeout: 600  # INI/pgbouncer.ini:48
                server_lifetime: 1800  # INI/pgbouncer.ini:45
                server_idle_timeout: 300  # INI/pgbouncer.ini:46
                server_reset_query: DISCARD ALL  # INI/pgbouncer.ini:43
                server_check_delay: 10  # INI/pgbouncer.ini:44
                admin_users: [ops, deploy]  # INI/pgbouncer.ini:34
                stats_users: [exporter]  # INI/pgbouncer.ini:35
                ignore_startup_parameters: [extra_float_digits, search_path]  # INI/pgbouncer.ini:49
                tcp_keepalive: true  # INI/pgbouncer.ini:54
                tcp_keepidle: 60  # INI/pgbouncer.ini:55
                so_reuseport: true  # INI/pgbouncer-local.ini:4
                client_tls_sslmode: require  # INI/pgbouncer.ini:50
                client_tls_key_file: /etc/pgbouncer/tls/pgbouncer.key  # INI/pgbouncer.ini:51
                client_tls_cert_file: /etc/pgbouncer/tls/pgbouncer.crt  # INI/pgbouncer.ini:52
                server_tls_sslmode: disable  # INI/pgbouncer.ini:53
                # Turnout's own, not in PgBouncer: metrics_port: 9127 serves /metrics, /health and /ready.
                databases:
                  # INI/pgbouncer.ini:5
                  shard_01: { host: 10.20.1.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:6
                  shard_02: { host: 10.20.2.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:7
                  shard_03: { host: 10.20.3.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:8
                  shard_04: { host: 10.20.4.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:9
                  shard_05: { host: 10.20.5.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:10
                  shard_06: { host: 10.20.6.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:11
                  shard_07: { host: 10.20.7.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:12
                  shard_08: { host: 10.20.8.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:13
                  shard_09: { host: 10.20.9.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:14
                  shard_10: { host: 10.20.10.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:15
                  shard_11: { host: 10.20.11.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:16
                  shard_12: { host: 10.20.12.11, port: 5432, dbname: orders }
                  # INI/pgbouncer.ini:18
                  reporting: { host: reports.db.internal, port: 5433, dbname: orders, user: report, password: "s3cr'et", pool_size: 5, pool_mode: session }
                  # INI/pgbouncer.ini:19
                  legacy: { host: "10.20.99.1,10.20.99.2", dbname: legacy, target_session_attrs: any }
                """.replace("INI", dir.toString()));
    }

    @Test
    void seedDeploymentWarnsAboutExactlyWhatIsDropped() throws Exception {
        List<String> expected = List.of(
                "pgbouncer.ini:18: [databases] reporting: application_name=reporting dropped: Turnout does not send per-database startup parameters; clients' own settings apply (or ALTER DATABASE ... SET in PostgreSQL)",
                "pgbouncer.ini:19: [databases] legacy: timezone=UTC dropped: Turnout does not send per-database startup parameters; clients' own settings apply (or ALTER DATABASE ... SET in PostgreSQL)",
                "pgbouncer.ini:19: [databases] legacy: connect_query=SET search_path = legacy dropped: Turnout runs no query on new server connections",
                "pgbouncer.ini:21: [databases] *: dropped: the '*' fallback database has no Turnout equivalent (Turnout's wildcards are 'prefix*' names, made for Patroni scopes); list each database",
                "pgbouncer.ini:24: [users] batch: dropped: Turnout has no per-user settings (pool_mode=session max_user_connections=10)",
                "pgbouncer.ini:27: [pgbouncer] logfile: dropped: logging is logback's job: Turnout logs to stdout, where journald or the container runtime keeps it (level: TURNOUT_LOG_LEVEL)",
                "pgbouncer.ini:28: [pgbouncer] pidfile: dropped: Turnout runs in the foreground; systemd or the container runtime tracks its process",
                "pgbouncer.ini:29: [pgbouncer] listen_addr: '*' became 0.0.0.0 (every IPv4 address; write :: for IPv6 as well)",
                "pgbouncer.ini:31: [pgbouncer] unix_socket_dir: dropped: Turnout listens on TCP only",
                "pgbouncer.ini:33: [pgbouncer] auth_file: relative path: Turnout reads it beside turnout.yaml, PgBouncer from its working directory",
                "pgbouncer.ini:56: [pgbouncer] log_connections: dropped: logging is logback's job: Turnout logs to stdout, where journald or the container runtime keeps it (level: TURNOUT_LOG_LEVEL)",
                "userlist.txt:5: \"exporter\": shaped like an md5 hash but not md5 + 32 lowercase hex digits; Turnout would take it as a plain password",
                "userlist.txt:6: \"deploy\": empty secret: no password can be checked against it"
                );
        List<String> all = new java.util.ArrayList<>(expected.stream().map(w -> dir + "/" + w).toList());
        // the TLS keys are carried; their files live on the PgBouncer host until copied here
        all.add("the imported configuration does not load as it is: turnout.yaml:29: client_tls_key_file: file"
                + " /etc/pgbouncer/tls/pgbouncer.key does not exist");
        assertThat(importSeed().warnings()).extracting(Warning::toString).containsExactlyElementsOf(all);
    }

    @Test
    void theYamlLoadsWithTheIniValues() throws Exception {
        Result r = importSeed();
        io.turnout.config.testing.TestCerts pki = io.turnout.config.testing.TestCerts.generate(dir.resolve("tls"));
        String yaml = r.yaml().replace("/etc/pgbouncer/tls/pgbouncer.key", pki.serverKey().toString())
                .replace("/etc/pgbouncer/tls/pgbouncer.crt", pki.serverCert().toString());
        TurnoutConfig c = ConfigLoader.parse(yaml, "turnout.yaml", null, dir);
        assertThat(c.tls().clientMode()).isEqualTo(SslMode.REQUIRE);
        assertThat(c.tls().clientCertFile()).isEqualTo(pki.serverCert());
        assertThat(c.tls().serverMode()).isEqualTo(SslMode.DISABLE);
        assertThat(c.listenAddr()).isEqualTo("0.0.0.0");
        assertThat(c.listenPort()).isEqualTo(6432);
        assertThat(c.authType()).isEqualTo(AuthType.SCRAM_SHA_256);
        assertThat(c.authFile()).isEqualTo(dir.resolve("userlist.txt"));
        assertThat(c.users()).containsOnlyKeys("app", "report", "ops", "exporter", "deploy");
        assertThat(c.adminUsers()).containsExactly("ops", "deploy");
        assertThat(c.statsUsers()).containsExactly("exporter");
        PoolSettings p = c.pool();
        assertThat(p.poolMode()).isEqualTo(PoolMode.TRANSACTION);
        assertThat(p.defaultPoolSize()).isEqualTo(20);
        assertThat(p.minPoolSize()).isEqualTo(5);
        assertThat(p.reservePoolSize()).isEqualTo(5);
        assertThat(p.reservePoolTimeout()).isEqualTo(Duration.ofSeconds(3));
        assertThat(p.maxClientConn()).as("pgbouncer-local.ini, included last, wins").isEqualTo(8000);
        assertThat(p.maxDbConnections()).isEqualTo(60);
        assertThat(p.queryWaitTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(p.idleTransactionTimeout()).isEqualTo(Duration.ofMinutes(10));
        assertThat(p.serverLifetime()).isEqualTo(Duration.ofMinutes(30));
        assertThat(p.serverIdleTimeout()).isEqualTo(Duration.ofMinutes(5));
        assertThat(p.serverCheckDelay()).isEqualTo(Duration.ofSeconds(10));
        assertThat(p.serverResetQuery()).isEqualTo("DISCARD ALL");
        assertThat(c.databases()).hasSize(14).doesNotContainKey("*");
        assertThat(c.databaseTemplates()).isEmpty();
        for (int i = 1; i <= 12; i++) {
            DatabaseConfig shard = c.databases().get(String.format("shard_%02d", i));
            assertThat(shard.host()).isEqualTo("10.20." + i + ".11");
            assertThat(shard.port()).isEqualTo(5432);
            assertThat(shard.dbname()).isEqualTo("orders");
            assertThat(shard.user()).isNull();
            assertThat(shard.poolSize()).isEqualTo(20);
            assertThat(shard.poolMode()).isEqualTo(PoolMode.TRANSACTION);
        }
        DatabaseConfig reporting = c.databases().get("reporting");
        assertThat(reporting.host()).isEqualTo("reports.db.internal");
        assertThat(reporting.port()).isEqualTo(5433);
        assertThat(reporting.user()).isEqualTo("report");
        assertThat(reporting.password()).isEqualTo("s3cr'et");
        assertThat(reporting.poolSize()).isEqualTo(5);
        assertThat(reporting.poolMode()).isEqualTo(PoolMode.SESSION);
        assertThat(c.databases().get("legacy").hosts()).containsExactly("10.20.99.1", "10.20.99.2");
        assertThat(c.databases().get("legacy").routing().targetSessionAttrs()).as("PgBouncer checks no role")
                .isEqualTo(TargetSessionAttrs.ANY);
        assertThat(r.warnings()).filteredOn(w -> w.message().contains("does not load"))
                .allMatch(w -> w.message().contains("/etc/pgbouncer/tls/"));
    }

    @Test
    void loadBalanceHostsAndCommaHostsAreCarried() throws Exception {
        Path ini = dir.resolve("lb.ini");
        Files.writeString(ini, """
                [databases]
                ro = host=10.0.0.1,10.0.0.2 port=5432 load_balance_hosts=disable dbname=app
                rr = host=10.0.0.3 port=5433,5434 load_balance_hosts=Round-Robin
                bad = host=10.0.0.4 load_balance_hosts=random
                [pgbouncer]
                auth_type = trust
                """);
        Result r = PgBouncerIniImporter.importFile(ini, null);
        assertThat(r.yaml()).contains(
                "  ro: { host: \"10.0.0.1,10.0.0.2\", port: 5432, dbname: app, load_balance_hosts: disable,"
                        + " target_session_attrs: any }\n",
                "  rr: { host: 10.0.0.3, port: 5433, load_balance_hosts: round-robin }\n",
                "  bad: { host: 10.0.0.4 }\n");
        assertThat(r.warnings()).extracting(Warning::toString).contains(
                ini + ":3: [databases] rr: port=5433,5434: Turnout takes one port for all hosts; kept 5433",
                ini + ":4: [databases] bad: load_balance_hosts=random dropped: expected disable, round-robin");
        TurnoutConfig c = ConfigLoader.parse(r.yaml(), "turnout.yaml", null, dir);
        assertThat(c.database("ro").hosts()).containsExactly("10.0.0.1", "10.0.0.2");
        assertThat(r.warnings()).extracting(Warning::toString).noneMatch(w -> w.contains("host="));
        assertThat(c.database("ro").routing().loadBalanceHosts()).isEqualTo(LoadBalanceHosts.DISABLE);
        assertThat(c.database("rr").routing().loadBalanceHosts()).isEqualTo(LoadBalanceHosts.ROUND_ROBIN);
    }

    @Test
    void aUserlistThatDoesNotParseIsAnError() throws Exception {
        Path ini = copy("pgbouncer.ini");
        copy("pgbouncer-local.ini");
        Path bad = dir.resolve("bad-userlist.txt");
        Files.writeString(bad, "\"app\" \"secret\"\napp secret\n");
        assertThatThrownBy(() -> PgBouncerIniImporter.importFile(ini, bad))
                .isInstanceOf(ConfigException.class).hasMessage(bad + ":2: expected \"user\" \"secret\"");
    }

    /**
     * The sample pgbouncer.ini of Debian's pgbouncer package (which .ci/run installs): copied, imported, and
     * every uncommented setting either carried or warned about with its own line number.
     */
    @Test
    void debianSampleConfig() throws Exception {
        Path sample = List.of(Path.of("/usr/share/doc/pgbouncer/examples/pgbouncer.ini"),
                        Path.of("/etc/pgbouncer/pgbouncer.ini")).stream()
                .filter(Files::isReadable).findFirst()
                .orElseThrow(() -> new AssertionError("PgBouncer's sample pgbouncer.ini is missing (neither"
                        + " /usr/share/doc/pgbouncer/examples/pgbouncer.ini nor /etc/pgbouncer/pgbouncer.ini):"
                        + " apt-get install pgbouncer, as .ci/run does"));
        Path ini = dir.resolve("pgbouncer.ini");
        Files.copy(sample, ini);
        Path userlist = dir.resolve("userlist.txt");
        Files.writeString(userlist, "\"marko\" \"asdasd\"\n\"postgres\" \"md5" + "0".repeat(32) + "\"\n");
        Result r = PgBouncerIniImporter.importFile(ini, userlist);
        List<String> lines = Files.readAllLines(ini, StandardCharsets.UTF_8);

        // with a database added, and the userlist copy in place of the package's own file, it loads
        TurnoutConfig loaded = ConfigLoader.parse(r.yaml()
                .replace("databases: {}", "databases:\n  app: { host: 127.0.0.1 }")
                .replace("auth_file: " + setting(lines, "auth_file"), "auth_file: " + userlist), "turnout.yaml", null, dir);
        assertThat(loaded.users()).containsOnlyKeys("marko", "postgres");
        assertThat(loaded.listenAddr()).isEqualTo(setting(lines, "listen_addr"));
        assertThat(loaded.listenPort()).isEqualTo(Integer.parseInt(setting(lines, "listen_port")));
        assertThat(loaded.authType().key()).isEqualTo(setting(lines, "auth_type"));
        assertThat(r.yaml()).contains("auth_file: " + setting(lines, "auth_file") + "  # " + ini + ":"
                + (lineOf(lines, "auth_file") + 1));
        Map<String, String> reasons = Map.of(
                "logfile", "logging is logback's job: Turnout logs to stdout, where journald or the container runtime"
                        + " keeps it (level: TURNOUT_LOG_LEVEL)",
                "pidfile", "Turnout runs in the foreground; systemd or the container runtime tracks its process",
                "unix_socket_dir", "Turnout listens on TCP only");
        reasons.forEach((key, why) -> assertThat(r.warnings()).extracting(Warning::toString)
                .contains(ini + ":" + (lineOf(lines, key) + 1) + ": [pgbouncer] " + key + ": dropped: " + why));
        // its [databases] are all commented out, which Turnout (unlike PgBouncer) does not start with
        assertThat(r.warnings().get(r.warnings().size() - 1).toString()).isEqualTo("the imported configuration does"
                + " not load as it is: turnout.yaml:1: databases: at least one database is required");
        long uncommented = lines.stream().map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith(";") && !l.startsWith("#") && !l.startsWith("[")).count();
        long carried = r.yaml().lines().filter(l -> l.contains("  # " + ini + ":")).count();
        long warned = r.warnings().stream().filter(w -> ini.toString().equals(w.file()) && w.line() > 0).count();
        assertThat(carried + warned).as("each uncommented setting is carried or warned about").isEqualTo(uncommented);
        assertThat(warned).isEqualTo(reasons.size());
    }

    private static int lineOf(List<String> lines, String key) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).matches(key + "\\s*=.*")) {
                return i;
            }
        }
        throw new AssertionError("the sample sets no " + key);
    }

    private static String setting(List<String> lines, String key) {
        String line = lines.get(lineOf(lines, key));
        return line.substring(line.indexOf('=') + 1).strip();
    }
}
