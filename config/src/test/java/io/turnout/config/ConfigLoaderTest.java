package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    @TempDir
    Path dir;

    private TurnoutConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "turnout.yaml", null, dir);
    }

    @Test
    void theIssueExampleLoadsWithPgBouncerNames() throws Exception {
        Files.writeString(dir.resolve("users.txt"), "\"alice\" \"secret\"\n; comment\n\"bob\" \"md5abcdefabcdefabcdefabcdefabcdefab\"\n");
        TurnoutConfig c = parse("""
                listen_addr: 127.0.0.1
                listen_port: 6432
                auth_type: scram-sha-256
                auth_file: users.txt
                auth_user: pgbouncer
                auth_query: SELECT usename, passwd FROM pg_shadow WHERE usename=$1
                pool_mode: transaction
                default_pool_size: 20
                min_pool_size: 0
                reserve_pool_size: 0
                reserve_pool_timeout: 5
                max_client_conn: 5000
                max_db_connections: 0
                query_wait_timeout: 120
                client_login_timeout: 60
                idle_transaction_timeout: 0
                server_lifetime: 3600
                server_idle_timeout: 600
                server_connect_timeout: 15
                server_login_retry: 15
                server_reset_query: DISCARD ALL
                server_check_query: select 1
                server_check_delay: 30
                databases:
                  bench: { host: 127.0.0.1, port: 5432, dbname: bench, user: postgres, password: pw, pool_size: 20, pool_mode: transaction }
                  other: { host: db2 }
                """);
        assertThat(c.authType()).isEqualTo(AuthType.SCRAM_SHA_256);
        assertThat(c.users()).containsEntry("alice", "secret").containsKey("bob").hasSize(2);
        assertThat(c.pool().poolMode()).isEqualTo(PoolMode.TRANSACTION);
        assertThat(c.pool().maxClientConn()).isEqualTo(5000);
        assertThat(c.pool().queryWaitTimeout()).isEqualTo(Duration.ofSeconds(120));
        assertThat(c.pool().serverResetQuery()).isEqualTo("DISCARD ALL");
        DatabaseConfig bench = c.databases().get("bench");
        assertThat(bench.dbname()).isEqualTo("bench");
        assertThat(bench.poolSize()).isEqualTo(20);
        assertThat(bench.toString()).doesNotContain("pw");
        DatabaseConfig other = c.databases().get("other");
        assertThat(other.port()).isEqualTo(5432);
        assertThat(other.dbname()).isEqualTo("other");
        assertThat(other.poolMode()).isEqualTo(PoolMode.TRANSACTION);
        assertThat(other.user()).isNull();
    }

    @Test
    void durationsAcceptSecondsFractionsAndUnits() throws Exception {
        TurnoutConfig c = parse("""
                auth_type: trust
                query_wait_timeout: 2.5
                server_lifetime: 1h
                server_idle_timeout: 5m
                client_login_timeout: 500ms
                databases: { d: { host: h } }
                """);
        assertThat(c.pool().queryWaitTimeout()).isEqualTo(Duration.ofMillis(2500));
        assertThat(c.pool().serverLifetime()).isEqualTo(Duration.ofHours(1));
        assertThat(c.pool().serverIdleTimeout()).isEqualTo(Duration.ofMinutes(5));
        assertThat(c.pool().clientLoginTimeout()).isEqualTo(Duration.ofMillis(500));
    }

    @Test
    void errorsNameTheFileLineAndKey() {
        assertThatThrownBy(() -> parse("""
                auth_type: trust
                default_pool_size: lots
                databases: { d: { host: h } }
                """)).hasMessage("turnout.yaml:2: default_pool_size: expected a whole number, got 'lots'");
        assertThatThrownBy(() -> parse("""
                auth_type: trust
                pool_mod: transaction
                databases: { d: { host: h } }
                """)).hasMessageStartingWith("turnout.yaml:2: pool_mod: unknown key");
        assertThatThrownBy(() -> parse("""
                auth_type: trust
                pool_mode: sometimes
                databases: { d: { host: h } }
                """)).hasMessage("turnout.yaml:2: pool_mode: expected one of session, transaction, statement, got 'sometimes'");
        assertThatThrownBy(() -> parse("""
                auth_type: trust
                databases:
                  d: { host: h }
                  e: { host: h, prot: 5432 }
                """)).hasMessageStartingWith("turnout.yaml:4: databases.e.prot: unknown key");
        assertThatThrownBy(() -> parse("""
                auth_type: trust
                databases:
                  d: { port: 5432 }
                """)).hasMessage("turnout.yaml:3: databases.d: host is required");
        assertThatThrownBy(() -> parse("""
                auth_type: md5
                databases: { d: { host: h } }
                """)).hasMessageContaining("turnout.yaml:1: auth_type: auth_type md5 needs auth_file or auth_user");
        assertThatThrownBy(() -> parse("""
                auth_type: trust
                auth_file: missing.txt
                databases: { d: { host: h } }
                """)).hasMessageContaining("turnout.yaml:2: auth_file: cannot read");
        assertThatThrownBy(() -> parse("auth_type: trust\nlisten_port: 70000\ndatabases: { d: { host: h } }\n"))
                .hasMessage("turnout.yaml:2: listen_port: must be between 0 and 65535, got 70000");
        assertThatThrownBy(() -> parse("auth_type: [trust\n")).hasMessageStartingWith("turnout.yaml:");
        assertThatThrownBy(() -> parse("auth_type: trust\n")).hasMessageContaining("databases");
    }

    @Test
    void authFileErrorsNameTheLine() throws Exception {
        Files.writeString(dir.resolve("users.txt"), "\"alice\" \"ok\"\nbob secret\n");
        assertThatThrownBy(() -> AuthFile.read(dir.resolve("users.txt")))
                .hasMessageEndingWith("users.txt:2: expected \"user\" \"secret\"");
        Files.writeString(dir.resolve("q.txt"), "\"a\"\"b\" \"x\"\"y\"\n");
        assertThat(AuthFile.read(dir.resolve("q.txt"))).containsEntry("a\"b", "x\"y");
    }
}
