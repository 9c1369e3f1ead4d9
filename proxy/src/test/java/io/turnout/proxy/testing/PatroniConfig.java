package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Makes a {@link PatroniCluster}'s members: directory, ports and {@code patroni.yml}. It is written as JSON, which YAML parsers
 * (Patroni's PyYAML) read as flow-style YAML: Jackson does the quoting, no YAML library is needed.
 */
final class PatroniConfig {
    static final Path PG_BIN = Path.of(System.getenv().getOrDefault("PG_BIN", PgServer.DEFAULT_PG_BIN));
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private PatroniConfig() {}

    /** A member {@code name} of {@code cluster} with its own directory under {@code clusterDir}, free ports and config. */
    static PatroniNode newNode(PatroniCluster cluster, Path clusterDir, String name) {
        Path nodeDir;
        try {
            nodeDir = Files.createDirectory(clusterDir.resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        OwnedDirs.chownToPostgres(nodeDir);
        PatroniNode n = new PatroniNode(name, FreePorts.pick(), FreePorts.pick(), nodeDir);
        write(cluster, n, cluster.etcd().hostPort(), PG_BIN);
        return n;
    }

    private static void write(PatroniCluster cluster, PatroniNode node, String etcdHostPort, Path pgBin) {
        Map<String, Object> pgParams = new LinkedHashMap<>();
        // small enough for several clusters of several nodes on a 2-core CI machine
        pgParams.put("max_connections", 50);
        pgParams.put("shared_buffers", "32MB");
        // pg_rewind (use_pg_rewind) needs hint bits WAL-logged; full_page_writes stays on, as it also needs that
        pgParams.put("wal_log_hints", "on");
        // a host crash is simulated by kill -9, which keeps the OS page cache: fsync buys nothing here
        pgParams.put("fsync", "off");
        pgParams.put("wal_keep_size", "128MB");
        pgParams.put("max_wal_senders", 10);
        pgParams.put("max_replication_slots", 10);
        pgParams.put("hot_standby", "on");

        Map<String, Object> dcsPg = new LinkedHashMap<>();
        dcsPg.put("use_pg_rewind", true);
        dcsPg.put("use_slots", true);
        // a node killed mid-write may have diverged further than pg_rewind can fix: then clone it afresh
        dcsPg.put("remove_data_directory_on_rewind_failure", true);
        dcsPg.put("remove_data_directory_on_diverged_timelines", true);
        dcsPg.put("parameters", pgParams);

        Map<String, Object> dcs = new LinkedHashMap<>();
        dcs.put("ttl", PatroniCluster.TTL_SECONDS);
        dcs.put("loop_wait", PatroniCluster.LOOP_WAIT_SECONDS);
        dcs.put("retry_timeout", PatroniCluster.RETRY_TIMEOUT_SECONDS);
        dcs.put("maximum_lag_on_failover", 1048576);
        // dynamic config, so it takes effect through the bootstrap; Patroni then keeps /failsafe (the members'
        // REST URLs) in etcd, and a leader cut off from etcd asks those members instead of demoting itself
        dcs.put("failsafe_mode", cluster.failsafe());
        dcs.put("postgresql", dcsPg);

        Map<String, Object> bootstrap = new LinkedHashMap<>();
        bootstrap.put("dcs", dcs);
        bootstrap.put("initdb", List.of(Map.of("encoding", "UTF8"), Map.of("locale", "C")));

        Map<String, Object> auth = new LinkedHashMap<>();
        auth.put("superuser", Map.of("username", PatroniCluster.SUPERUSER,
                "password", PatroniCluster.SUPERUSER_PASSWORD));
        auth.put("replication", Map.of("username", PatroniCluster.REPLICATION_USER,
                "password", PatroniCluster.REPLICATION_PASSWORD));

        Map<String, Object> localParams = new LinkedHashMap<>();
        localParams.put("unix_socket_directories", node.dir().toString());
        localParams.put("password_encryption", "scram-sha-256");
        localParams.put("jit", "off");
        localParams.put("lc_messages", "C");
        localParams.put("log_line_prefix", "%m [%p] %q%u@%d ");

        String pgAddr = node.host() + ":" + node.pgPort();
        Map<String, Object> pg = new LinkedHashMap<>();
        pg.put("listen", pgAddr);
        pg.put("connect_address", pgAddr);
        pg.put("data_dir", node.dataDir().toString());
        pg.put("bin_dir", pgBin.toString());
        pg.put("pgpass", node.dir().resolve("pgpass").toString());
        pg.put("authentication", auth);
        // pg_basebackup's default spread checkpoint takes minutes on an idle new primary; a replica must not wait
        pg.put("basebackup", List.of(Map.of("checkpoint", "fast")));
        pg.put("parameters", localParams);
        // here rather than under bootstrap: Patroni rewrites it at every start, so clones and rewound nodes get it
        // too. md5 accepts both MD5- and SCRAM-stored passwords (SCRAM for the latter), so any role works.
        pg.put("pg_hba", List.of(
                "local all all trust",
                "local replication all trust",
                "host all all 127.0.0.1/32 md5",
                "host replication " + PatroniCluster.REPLICATION_USER + " 127.0.0.1/32 md5"));

        String restAddr = node.host() + ":" + node.restPort();
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("scope", cluster.scope());
        root.put("namespace", cluster.namespace());
        root.put("name", node.name());
        root.put("log", Map.of("level", "INFO"));
        root.put("restapi", Map.of("listen", restAddr, "connect_address", restAddr));
        root.put("etcd3", Map.of("hosts", etcdHostPort, "protocol", "http"));
        root.put("bootstrap", bootstrap);
        root.put("postgresql", pg);
        try {
            Files.writeString(node.configFile(), JSON.writeValueAsString(root) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        OwnedDirs.chownToPostgres(node.configFile());
    }
}
