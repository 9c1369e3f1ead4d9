package io.turnout.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The whole configuration, immutable; a reload builds a new one and swaps the reference.
 *
 * @param source the file it was read from (null when built in code)
 * @param users auth_file contents: user name to secret (plain, md5... or SCRAM-SHA-256$...)
 * @param workers event loops (0 = one per core)
 * @param maxPacketSize largest protocol message accepted, in bytes (PgBouncer's max_packet_size)
 * @param statsPeriod how often SHOW STATS averages are recomputed (PgBouncer's stats_period)
 * @param metricsPort HTTP port of /metrics, /health and /ready; -1 = no HTTP endpoint, 0 = any free port
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
        int metricsPort) {
}
