package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * target_session_attrs, max_replica_lag, load_balance_hosts, comma host lists and "shard_*_ro" templates
 * (issue 17): parsed and checked, for patroni_scope databases and static hosts alike.
 */
class ReadRoutingConfigTest {
    /** README's twelve-shard example: one read-write and one read-only database per shard, and a static pair. */
    static final String TWELVE_SHARDS = """
            auth_type: trust
            pool_mode: transaction
            etcd:
              urls: [http://10.0.0.5:2379, http://10.0.0.6:2379, http://10.0.0.7:2379]
            databases:
              # shard_01 .. shard_12: each a Patroni scope with a leader and two replicas
              "shard_*":    { patroni_scope: "{db}", dbname: orders }
              "shard_*_ro": { patroni_scope: "{db}", dbname: orders, target_session_attrs: prefer-standby, max_replica_lag: 16MB }
              # a static pair, each host's role checked at login
              reports_ro: { host: "10.0.9.1,10.0.9.2", port: 5432, target_session_attrs: standby, load_balance_hosts: round-robin }
            """;

    @TempDir
    Path dir;

    private TurnoutConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "turnout.yaml", null, dir);
    }

    @Test
    void theTwelveShardExampleParses() throws Exception {
        TurnoutConfig c = parse(TWELVE_SHARDS);
        assertThat(c.databaseTemplates()).containsOnlyKeys("shard_*", "shard_*_ro");
        for (int i = 1; i <= 12; i++) {
            String shard = String.format("shard_%02d", i);
            DatabaseConfig rw = c.database(shard);
            assertThat(rw.patroniScope()).isEqualTo(shard);
            assertThat(rw.routing()).isEqualTo(ReadRouting.PRIMARY);
            DatabaseConfig ro = c.database(shard + "_ro");
            assertThat(ro.name()).isEqualTo(shard + "_ro");
            assertThat(ro.patroniScope()).as("{db} is the name without the template's suffix").isEqualTo(shard);
            assertThat(ro.dbname()).isEqualTo("orders");
            assertThat(ro.routing().targetSessionAttrs()).isEqualTo(TargetSessionAttrs.PREFER_STANDBY);
            assertThat(ro.routing().maxReplicaLag()).isEqualTo(16L * 1024 * 1024);
            assertThat(ro.toString()).contains("target_session_attrs=prefer-standby");
        }
        DatabaseConfig ro = c.databaseTemplates().get("shard_*_ro");
        assertThat(ro.databaseForScope("shard_07")).isEqualTo("shard_07_ro");
        assertThat(c.databaseTemplates().get("shard_*").databaseForScope("shard_07")).isEqualTo("shard_07");
        assertThat(c.database("shard__ro").name()).as("the * stands for at least one character: shard_* takes it")
                .isEqualTo("shard__ro");
        assertThat(c.database("shard__ro").patroniScope()).isEqualTo("shard__ro");

        DatabaseConfig reports = c.database("reports_ro");
        assertThat(reports.hosts()).containsExactly("10.0.9.1", "10.0.9.2");
        assertThat(reports.host()).as("as SHOW DATABASES prints it, like PgBouncer").isEqualTo("10.0.9.1,10.0.9.2");
        assertThat(reports.routing()).isEqualTo(new ReadRouting(TargetSessionAttrs.STANDBY, ReadRouting.NO_LAG_LIMIT,
                LoadBalanceHosts.ROUND_ROBIN));
        assertThat(reports.routing().lagLimited()).isFalse();
    }

    @Test
    void staticHostListsAndStandbyTargetsOnStaticHostsLoad() throws Exception {
        TurnoutConfig hosts = parse("auth_type: trust\ndatabases:\n  r: { host: \"h1, h2\", port: 5433 }\n");
        assertThat(hosts.database("r").hosts()).containsExactly("h1", "h2");
        assertThat(hosts.database("r").port()).isEqualTo(5433);
        assertThat(hosts.database("r").routing()).as("a comma list alone: the primary among them")
                .isEqualTo(ReadRouting.PRIMARY);
        for (TargetSessionAttrs t : TargetSessionAttrs.values()) {
            TurnoutConfig one = parse("auth_type: trust\ndatabases:\n  d: { host: h, target_session_attrs: " + t.key()
                    + ", load_balance_hosts: disable }\n");
            assertThat(one.database("d").routing().targetSessionAttrs()).as(t.key()).isEqualTo(t);
        }
        assertThat(catchConfig("auth_type: trust\ndatabases:\n  d: { host: h, target_session_attrs: PRIMARY }\n"))
                .isNull();
    }

    private ConfigException catchConfig(String yaml) {
        try {
            parse(yaml);
            return null;
        } catch (ConfigException e) {
            return e;
        }
    }

    @Test
    void everyTargetAndSizeForm() throws Exception {
        for (TargetSessionAttrs t : TargetSessionAttrs.values()) {
            TurnoutConfig c = parse("auth_type: trust\nconsul: { url: http://c:8500 }\ndatabases:\n  d: { patroni_scope: d,"
                    + " target_session_attrs: " + t.key() + " }\n");
            assertThat(c.database("d").routing().targetSessionAttrs()).isEqualTo(t);
        }
        Map<String, Long> sizes = Map.of("0", 0L, "1048576", 1048576L, "512kB", 512L * 1024, "16MB", 16L << 20,
                "16 mb", 16L << 20, "1GB", 1L << 30, "2TB", 2L << 40, "100B", 100L);
        for (Map.Entry<String, Long> s : sizes.entrySet()) {
            TurnoutConfig c = parse("auth_type: trust\nconsul: { url: http://c:8500 }\ndatabases:\n  d: { patroni_scope: d,"
                    + " target_session_attrs: standby, max_replica_lag: " + s.getKey() + " }\n");
            assertThat(c.database("d").routing().maxReplicaLag()).as(s.getKey()).isEqualTo(s.getValue());
            assertThat(c.database("d").routing().lagLimited()).isTrue();
        }
        TurnoutConfig disable = parse("auth_type: trust\ndatabases:\n  d: { host: \" a , b,c \", load_balance_hosts: disable }\n");
        assertThat(disable.database("d").hosts()).containsExactly("a", "b", "c");
        assertThat(disable.database("d").routing().loadBalanceHosts()).isEqualTo(LoadBalanceHosts.DISABLE);
        assertThat(parse("auth_type: trust\ndatabases: { d: { host: h } }\n").database("d").routing())
                .as("no key: today's behaviour").isEqualTo(ReadRouting.PRIMARY);
    }

    @Test
    void misconfigurationsNameTheKeyAndLine() {
        String consul = "auth_type: trust\nconsul: { url: http://c:8500 }\ndatabases:\n";
        List<String[]> cases = List.of(
                new String[] {"  d: { patroni_scope: d, target_session_attrs: replica }\n",
                    "turnout.yaml:4: databases.d.target_session_attrs: expected one of read-write, primary, standby,"
                            + " prefer-standby, read-only, any, got 'replica'"},
                new String[] {"  d: { patroni_scope: d, target_session_attrs: standby, max_replica_lag: 16XB }\n",
                    "turnout.yaml:4: databases.d.max_replica_lag: expected a size such as 1048576, 512kB, 16MB or 1GB,"
                            + " got '16XB'"},
                new String[] {"  d: { patroni_scope: d, target_session_attrs: standby, max_replica_lag: -1 }\n",
                    "turnout.yaml:4: databases.d.max_replica_lag: expected a size"},
                new String[] {"  d: { patroni_scope: d, target_session_attrs: standby, max_replica_lag: 99999999999TB }\n",
                    "turnout.yaml:4: databases.d.max_replica_lag: size too large: '99999999999TB'"},
                new String[] {"  d:\n    patroni_scope: d\n    max_replica_lag: 16MB\n",
                    "turnout.yaml:6: databases.d.max_replica_lag: limits standbys, and target_session_attrs primary"
                            + " sends every transaction to the leader"},
                new String[] {"  d: { host: h, target_session_attrs: standby, max_replica_lag: 1MB }\n",
                    "turnout.yaml:4: databases.d.max_replica_lag: needs patroni_scope"},
                new String[] {"  d: { patroni_scope: d, target_session_attrs: any, load_balance_hosts: round-robin }\n",
                    "turnout.yaml:4: databases.d.load_balance_hosts: applies to a static comma list of hosts"},
                new String[] {"  d: { host: \"a,b\", load_balance_hosts: random }\n",
                    "turnout.yaml:4: databases.d.load_balance_hosts: expected one of disable, round-robin, got 'random'"},
                new String[] {"  d: { host: \"a,,b\" }\n",
                    "turnout.yaml:4: databases.d.host: empty host in 'a,,b'"},
                new String[] {"  \"*_ro*\": { patroni_scope: \"{db}\" }\n",
                    "turnout.yaml:4: databases.*_ro*: only one * is supported"});
        for (String[] c : cases) {
            assertThatThrownBy(() -> parse(consul + c[0])).as(c[0]).isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith(c[1]);
        }
    }

    @Test
    void perDatabaseTlsModeFollowsSuffixTemplatesToo() throws Exception {
        TurnoutConfig c = parse("auth_type: trust\nconsul: { url: http://c:8500 }\ndatabases:\n"
                + "  \"shard_*_ro\": { patroni_scope: \"{db}\", server_tls_sslmode: disable }\n"
                + "  \"shard_*\": { patroni_scope: \"{db}\", server_tls_sslmode: require }\n");
        assertThat(c.tls().serverMode("shard_a_ro")).isEqualTo(SslMode.DISABLE);
        assertThat(c.tls().serverMode("shard_a")).isEqualTo(SslMode.REQUIRE);
    }
}
