package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.config.PgBouncerIniImporter.Result;
import io.turnout.config.PgBouncerIniImporter.Warning;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** pgbouncer.ini's format as PgBouncer reads it, the corners of the mapping, and the YAML quoting round trip. */
class PgBouncerIniTest {
    @TempDir
    Path dir;

    private Path ini(String name, String text) throws Exception {
        Path p = dir.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
        return p;
    }

    private Result importText(String text) throws Exception {
        return PgBouncerIniImporter.importFile(ini("pgbouncer.ini", text), null);
    }

    private TurnoutConfig load(Result r) throws ConfigException {
        return ConfigLoader.parse(r.yaml(), "turnout.yaml", null, dir);
    }

    private String warning(int line, String section, String key, String message) {
        return new Warning(dir.resolve("pgbouncer.ini").toString(), line, section, key, message).toString();
    }

    @Test
    void commentsOnlyStartALineAndValuesAreTakenVerbatim() throws Exception {
        Result r = importText("""
                  ; a comment
                # another
                [pgbouncer] listen_addr = 10.0.0.5
                auth_type = trust
                server_check_query = select 1 ; not a comment in PgBouncer
                server_reset_query =
                [databases]
                "my db" = host=db1 dbname='odd''name' password=ignored
                "say ""hi""\" = host=db2 port=0x10
                """);
        TurnoutConfig c = load(r);
        assertThat(c.listenAddr()).isEqualTo("10.0.0.5");
        assertThat(c.authType()).isEqualTo(AuthType.TRUST);
        assertThat(c.pool().serverCheckQuery()).isEqualTo("select 1 ; not a comment in PgBouncer");
        assertThat(c.pool().serverResetQuery()).as("empty disables it in both").isNull();
        assertThat(c.databases().get("my db").dbname()).isEqualTo("odd'name");
        assertThat(c.databases().get("my db").password()).isNull();
        assertThat(c.databases()).as("a connection-string port is decimal (atoi), so 0x10 is dropped")
                .containsKey("say \"hi\"");
        assertThat(c.databases().get("say \"hi\"").port()).isEqualTo(5432);
        assertThat(r.warnings()).extracting(Warning::toString).containsExactly(
                warning(8, "databases", "my db", "password dropped: without user= PgBouncer ignores it too"),
                warning(9, "databases", "say \"hi\"", "port=0x10 dropped: not a whole number"));
    }

    @Test
    void laterLinesWinAndIncludesResolveBesideTheIni() throws Exception {
        ini("conf.d/pools.ini", "[pgbouncer]\ndefault_pool_size = 7\n%include more.ini\n");
        ini("conf.d/more.ini", "[databases]\nb = host=h2\n");
        Result r = importText("""
                [databases]
                a = host=h1
                b = host=old
                [pgbouncer]
                auth_type = trust
                default_pool_size = 5
                %include conf.d/pools.ini
                [pgbouncer]
                max_client_conn = 0x20
                server_lifetime = 1e2
                server_idle_timeout = .5
                """);
        TurnoutConfig c = load(r);
        // the section an include ends in carries on after it, as in PgBouncer: hence the second [pgbouncer]
        assertThat(c.pool().defaultPoolSize()).isEqualTo(7);
        assertThat(c.pool().maxClientConn()).as("strtol base 0, as PgBouncer").isEqualTo(32);
        assertThat(c.pool().serverLifetime()).isEqualTo(Duration.ofSeconds(100));
        assertThat(c.pool().serverIdleTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(c.databases().get("b").host()).isEqualTo("h2");
        assertThat(r.yaml()).contains("default_pool_size: 7  # " + dir.resolve("conf.d/pools.ini") + ":2")
                .contains("  # " + dir.resolve("conf.d/more.ini") + ":2\n  b: { host: h2 }");
        assertThat(r.yaml().indexOf("  a: {")).as("b moved to where it was last defined").isLessThan(r.yaml().indexOf("  b: {"));
    }

    @Test
    void defaultsThatDifferFromTurnoutsAreWrittenOrWarnedAbout() throws Exception {
        Files.writeString(dir.resolve("users.txt"), "\"u\" \"p\"\n");
        Result r = importText("[pgbouncer]\nauth_file = " + dir.resolve("users.txt") + "\n[databases]\nd = host=h\n");
        assertThat(r.yaml()).contains("auth_type: md5  # PgBouncer's default (Turnout's own is scram-sha-256)\n");
        assertThat(load(r).authType()).isEqualTo(AuthType.MD5);
        assertThat(r.warnings()).extracting(Warning::toString).containsExactly(warning(0, "pgbouncer", "listen_addr",
                "not set: PgBouncer listened on its Unix socket only; Turnout listens on TCP, 127.0.0.1 unless"
                        + " listen_addr says otherwise"));
    }

    @Test
    void whatTurnoutCannotDoIsWarnedAboutAndLeftOut() throws Exception {
        Result r = importText("""
                [pgbouncer]
                listen_addr = 10.0.0.5, 10.0.0.6
                auth_type = hba
                auth_hba_file = /etc/pgbouncer/hba.conf
                pool_mode = sometimes
                query_timeout = 0
                query_wait_timeout = soon
                server_tls_sslmode = verify-full
                client_tls_sslmode = disable
                peer_id = 1
                frobnicate = 1
                [peers]
                1 = host=10.0.0.5
                [databases]
                sock = host=/var/run/postgresql
                nohost = dbname=x
                pgbouncer = host=h
                turnout = host=h
                ok = host=h pool_mode=Transaction
                """);
        assertThat(r.yaml()).doesNotContain("auth_type").doesNotContain("pool_mode: sometimes")
                .contains("  ok: { host: h, pool_mode: transaction }")
                .contains("server_tls_sslmode: verify-full").contains("client_tls_sslmode: disable")
                .contains("peer_id: 1").contains("peers:\n  - { id: 1, host: 10.0.0.5, port: 6432 }");
        assertThat(r.warnings()).extracting(Warning::toString).containsExactly(
                warning(2, "pgbouncer", "listen_addr", "Turnout listens on one address; kept 10.0.0.5, dropped 10.0.0.6"),
                warning(3, "pgbouncer", "auth_type", "not carried over (Turnout has no HBA file: pick one of"
                        + " scram-sha-256, md5, plain, trust, cert); Turnout's default scram-sha-256 applies"),
                warning(4, "pgbouncer", "auth_hba_file", "dropped: Turnout has no HBA file: one auth_type applies to"
                        + " every client"),
                warning(5, "pgbouncer", "pool_mode", "dropped: expected session, transaction or statement, got 'sometimes'"),
                warning(7, "pgbouncer", "query_wait_timeout", "dropped: expected a number of seconds, got 'soon'"
                        + " (PgBouncer refuses it too)"),
                warning(11, "pgbouncer", "frobnicate", "dropped: unknown PgBouncer setting"),
                warning(15, "databases", "sock", "dropped: host=/var/run/postgresql means a Unix socket, and Turnout"
                        + " connects over TCP only; add it with a TCP host"),
                warning(16, "databases", "nohost", "dropped: no host means a Unix socket, and Turnout connects over"
                        + " TCP only; add it with a TCP host"),
                warning(17, "databases", "pgbouncer", "dropped: 'pgbouncer' is the name of Turnout's admin console"),
                warning(18, "databases", "turnout", "dropped: 'turnout' is the name of Turnout's admin console"),
                "the imported configuration does not load as it is: turnout.yaml:5: auth_type: auth_type"
                        + " scram-sha-256 needs auth_file or auth_user to find secrets");
    }

    @Test
    void clientTimeoutsAndClientLimitsAreCarriedWithoutWarnings() throws Exception {
        Files.writeString(dir.resolve("users.txt"), "\"u\" \"p\"\n");
        Result r = importText("[pgbouncer]\nlisten_addr = 127.0.0.1\nauth_file = " + dir.resolve("users.txt") + "\n"
                + "query_timeout = 30\ntransaction_timeout = 120.5\nclient_idle_timeout = 600\n"
                + "cancel_wait_timeout = 0\nmax_db_client_connections = 50\nmax_user_client_connections = 0x10\n"
                + "[databases]\nd = host=h\n");
        assertThat(r.warnings()).isEmpty();
        assertThat(r.yaml()).contains("query_timeout: 30  # ").contains("transaction_timeout: 120.5  # ")
                .contains("max_user_client_connections: 16  # ");
        PoolSettings.ClientLimits limits = load(r).pool().clientLimits();
        assertThat(limits).isEqualTo(new PoolSettings.ClientLimits(Duration.ofSeconds(30), Duration.ofMillis(120_500),
                Duration.ofSeconds(600), Duration.ZERO, 50, 16));
    }

    @Test
    void clientLimitDefaultsAndBadValuesNameTheKeyAndLine() throws Exception {
        PoolSettings.ClientLimits defaults = ConfigLoader.parse("auth_type: trust\ndatabases:\n  d: { host: h }\n",
                "t.yaml", null, dir).pool().clientLimits();
        assertThat(defaults).isEqualTo(new PoolSettings.ClientLimits(Duration.ZERO, Duration.ZERO, Duration.ZERO,
                Duration.ofSeconds(10), 0, 0));
        assertThatThrownBy(() -> ConfigLoader.parse("auth_type: trust\nmax_db_client_connections: -1\n"
                + "databases:\n  d: { host: h }\n", "t.yaml", null, dir))
                .isInstanceOf(ConfigException.class).hasMessageContaining("t.yaml:2").hasMessageContaining("max_db_client_connections");
        assertThatThrownBy(() -> ConfigLoader.parse("auth_type: trust\nquery_timeout: soon\n"
                + "databases:\n  d: { host: h }\n", "t.yaml", null, dir))
                .isInstanceOf(ConfigException.class).hasMessageContaining("t.yaml:2").hasMessageContaining("query_timeout");
    }

    @Test
    void awkwardValuesSurviveTheYamlRoundTrip() throws Exception {
        String[] values = {"p#ss word", "a: b", "\"quoted\"", "back\\slash", "@start", "null", "~", "-dash", "*star",
            "[x]", "{y}", "tab\there", "2001:db8::1", "yes", "0123", "ünïcödé", "%pct", "!bang", "&amp", "'single'"};
        StringBuilder ini = new StringBuilder("[pgbouncer]\nlisten_addr = ::1\nauth_type = trust\nauth_query = ");
        ini.append(values[0]).append("\n[databases]\n");
        for (int i = 0; i < values.length; i++) {
            String v = values[i].replace("'", "''");
            ini.append("d").append(i).append(" = host=h user=u password='").append(v).append("' dbname='").append(v)
                    .append("'\n");
        }
        Result r = importText(ini.toString());
        TurnoutConfig c = load(r);
        assertThat(c.authQuery()).isEqualTo(values[0]);
        assertThat(c.listenAddr()).isEqualTo("::1");
        for (int i = 0; i < values.length; i++) {
            assertThat(c.databases().get("d" + i).password()).as(values[i]).isEqualTo(values[i]);
            assertThat(c.databases().get("d" + i).dbname()).as(values[i]).isEqualTo(values[i]);
        }
        assertThat(r.warnings()).isEmpty();
    }

    @Test
    void filesPgBouncerWouldRefuseAreErrorsNamingFileAndLine() throws Exception {
        String f = dir.resolve("pgbouncer.ini").toString();
        assertThatThrownBy(() -> importText("[pgbouncer]\nlisten_port 6432\n")).isInstanceOf(ConfigException.class)
                .hasMessage(f + ":2: syntax error: expected key = value, got 'listen_port 6432'");
        assertThatThrownBy(() -> importText("[pgbouncer\n")).hasMessage(f + ":1: syntax error: section header without ']'");
        assertThatThrownBy(() -> importText("[pgbouncer]\n[cluster]\n"))
                .hasMessage(f + ":2: unknown section [cluster] (PgBouncer knows pgbouncer, databases, users, peers)");
        assertThatThrownBy(() -> importText("listen_port = 1\n")).hasMessage(f + ":1: 'listen_port' comes before any [section]");
        assertThatThrownBy(() -> importText("[databases]\na = host=h\n"))
                .hasMessage(f + ": no [pgbouncer] section (PgBouncer refuses such a file too)");
        assertThatThrownBy(() -> importText("[pgbouncer]\n[databases]\na = host=h password='open\n"))
                .hasMessage(f + ":3: [databases] a: syntax error in connection string: password: unterminated quoted value");
        assertThatThrownBy(() -> importText("[pgbouncer]\n[databases]\na = host=h port\n"))
                .hasMessage(f + ":3: [databases] a: syntax error in connection string: expected key=value at 'port'");
        assertThatThrownBy(() -> importText("[pgbouncer]\n%include missing.ini\n"))
                .hasMessage(f + ":2: cannot read included file " + dir.resolve("missing.ini") + ": no such file");
        ini("loop.ini", "[pgbouncer]\n%include loop.ini\n");
        assertThatThrownBy(() -> PgBouncerIniImporter.importFile(dir.resolve("loop.ini"), null))
                .hasMessage(dir.resolve("loop.ini") + ":2: %include nested deeper than 10 levels");
        assertThatThrownBy(() -> PgBouncerIniImporter.importFile(dir.resolve("absent.ini"), null))
                .hasMessage("cannot read " + dir.resolve("absent.ini") + ": no such file");
    }
}
