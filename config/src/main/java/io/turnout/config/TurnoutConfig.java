package io.turnout.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The whole configuration, immutable; a reload builds a new one and swaps the reference.
 *
 * @param source the file it was read from (null when built in code)
 * @param users auth_file contents: user name to secret (plain, md5... or SCRAM-SHA-256$...)
 * @param workers event loops (0 = one per core but one, at least one)
 * @param maxPacketSize largest protocol message accepted, in bytes (PgBouncer's max_packet_size)
 * @param statsPeriod how often SHOW STATS averages are recomputed (PgBouncer's stats_period)
 * @param metricsPort HTTP port of /metrics, /health and /ready; -1 = no HTTP endpoint, 0 = any free port
 * @param databaseTemplates wildcard databases ("shard_*", "shard_*_ro") by pattern; see {@link #database(String)}
 * @param consul where Patroni clusters are watched in Consul, or null (no Patroni database, or etcd)
 * @param etcd where Patroni clusters are watched in etcd, or null; at most one of consul and etcd is set
 * @param network PROXY protocol, TCP keepalive, SO_REUSEPORT, peering and drain settings
 * @param tls client_tls_* and server_tls_* (TLS towards clients and towards PostgreSQL)
 */
public record TurnoutConfig(
        Path source,
        String listenAddr,
        int listenPort,
        AuthType authType,
        Path authFile,
        Map<String, String> users,
        String authUser,
        String authQuery,
        PoolSettings pool,
        Map<String, DatabaseConfig> databases,
        int workers,
        int maxPacketSize,
        List<String> adminUsers,
        List<String> statsUsers,
        java.time.Duration statsPeriod,
        String metricsAddr,
        int metricsPort,
        Map<String, DatabaseConfig> databaseTemplates,
        ConsulConfig consul,
        EtcdConfig etcd,
        NetworkSettings network,
        TlsSettings tls) {

    /**
     * The database a client asks for: a configured one by exact name, else the most specific (longest)
     * matching template ("shard_*_ro" before "shard_*") made concrete for that name, else null.
     */
    public DatabaseConfig database(String name) {
        DatabaseConfig exact = databases.get(name);
        if (exact != null) {
            return exact;
        }
        DatabaseConfig best = null;
        for (DatabaseConfig t : databaseTemplates.values()) {
            if (t.matches(name) && (best == null || t.name().length() > best.name().length())) {
                best = t;
            }
        }
        return best == null ? null : best.instantiate(name);
    }
}
