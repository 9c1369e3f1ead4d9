package io.turnout.proxy.admin;

import static io.turnout.proxy.admin.AdminResult.TEXT;

import io.turnout.config.ConfigException;
import io.turnout.config.ConfigLoader;
import io.turnout.config.PoolSettings;
import io.turnout.config.TurnoutConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/** SHOW CONFIG, VERSION and STATE. */
final class ShowSettings {
    /** Keys a RELOAD or SET cannot change: they shape the listener and the event loops. */
    static final Set<String> RESTART_ONLY = Set.of("listen_addr", "listen_port", "workers", "metrics_addr",
            "metrics_port", "consul", "etcd", "tls_engine");

    private static final Map<String, Function<TurnoutConfig, Object>> KEYS = keys();
    private static final TurnoutConfig DEFAULTS = defaults();

    private ShowSettings() {
    }

    private static Map<String, Function<TurnoutConfig, Object>> keys() {
        Map<String, Function<TurnoutConfig, Object>> k = new LinkedHashMap<>();
        k.put("listen_addr", TurnoutConfig::listenAddr);
        k.put("listen_port", TurnoutConfig::listenPort);
        k.put("auth_type", c -> c.authType().key());
        k.put("auth_file", c -> c.authFile());
        k.put("auth_user", TurnoutConfig::authUser);
        k.put("auth_query", TurnoutConfig::authQuery);
        k.put("pool_mode", c -> c.pool().poolMode().key());
        pool(k, "default_pool_size", PoolSettings::defaultPoolSize);
        pool(k, "min_pool_size", PoolSettings::minPoolSize);
        pool(k, "reserve_pool_size", PoolSettings::reservePoolSize);
        pool(k, "reserve_pool_timeout", PoolSettings::reservePoolTimeout);
        pool(k, "max_client_conn", PoolSettings::maxClientConn);
        pool(k, "max_db_connections", PoolSettings::maxDbConnections);
        pool(k, "max_user_connections", PoolSettings::maxUserConnections);
        pool(k, "query_wait_timeout", PoolSettings::queryWaitTimeout);
        pool(k, "client_login_timeout", PoolSettings::clientLoginTimeout);
        pool(k, "idle_transaction_timeout", PoolSettings::idleTransactionTimeout);
        pool(k, "server_lifetime", PoolSettings::serverLifetime);
        pool(k, "server_idle_timeout", PoolSettings::serverIdleTimeout);
        pool(k, "server_connect_timeout", PoolSettings::serverConnectTimeout);
        pool(k, "server_login_retry", PoolSettings::serverLoginRetry);
        pool(k, "server_reset_query", PoolSettings::serverResetQuery);
        pool(k, "server_reset_query_always", p -> p.serverResetQueryAlways() ? 1 : 0);
        pool(k, "server_check_query", PoolSettings::serverCheckQuery);
        pool(k, "server_check_delay", PoolSettings::serverCheckDelay);
        pool(k, "max_prepared_statements", PoolSettings::maxPreparedStatements);
        pool(k, "failover_hold_timeout", PoolSettings::failoverHoldTimeout);
        pool(k, "switchover_hold_timeout", PoolSettings::switchoverHoldTimeout);
        pool(k, "listen_mode", p -> p.listenMode().key());
        pool(k, "query_timeout", p -> p.clientLimits().queryTimeout());
        pool(k, "transaction_timeout", p -> p.clientLimits().transactionTimeout());
        pool(k, "client_idle_timeout", p -> p.clientLimits().clientIdleTimeout());
        pool(k, "cancel_wait_timeout", p -> p.clientLimits().cancelWaitTimeout());
        pool(k, "max_db_client_connections", p -> p.clientLimits().maxDbClientConnections());
        pool(k, "max_user_client_connections", p -> p.clientLimits().maxUserClientConnections());
        k.put("max_packet_size", TurnoutConfig::maxPacketSize);
        k.put("workers", TurnoutConfig::workers);
        k.put("admin_users", c -> String.join(",", c.adminUsers()));
        k.put("stats_users", c -> String.join(",", c.statsUsers()));
        k.put("stats_period", TurnoutConfig::statsPeriod);
        k.put("metrics_addr", TurnoutConfig::metricsAddr);
        k.put("metrics_port", c -> c.metricsPort() < 0 ? null : c.metricsPort());
        k.put("consul", c -> c.consul() == null ? null : c.consul().urls() + " namespace=" + c.consul().namespace());
        k.put("etcd", c -> c.etcd() == null ? null : c.etcd().urls() + " namespace=" + c.etcd().namespace());
        k.put("client_tls_sslmode", c -> c.tls().clientMode().key());
        k.put("client_tls_key_file", c -> c.tls().clientKeyFile());
        k.put("client_tls_cert_file", c -> c.tls().clientCertFile());
        k.put("client_tls_ca_file", c -> c.tls().clientCaFile());
        k.put("client_tls_protocols", c -> String.join(",", c.tls().clientProtocols()));
        k.put("client_tls_ciphers", c -> String.join(":", c.tls().clientCiphers()));
        k.put("client_tls_ecdhcurve", c -> c.tls().clientEcdhCurve());
        k.put("server_tls_sslmode", c -> c.tls().serverMode().key());
        k.put("server_tls_ca_file", c -> c.tls().serverCaFile());
        k.put("server_tls_key_file", c -> c.tls().serverKeyFile());
        k.put("server_tls_cert_file", c -> c.tls().serverCertFile());
        k.put("server_tls_protocols", c -> String.join(",", c.tls().serverProtocols()));
        k.put("server_tls_ciphers", c -> String.join(":", c.tls().serverCiphers()));
        k.put("client_channel_binding", c -> c.tls().clientChannelBinding().key());
        k.put("server_channel_binding", c -> c.tls().serverChannelBinding().key());
        k.put("tls_engine", c -> io.turnout.proxy.tls.TlsContexts.engine()); // not a key: which TLS library runs
        return k;
    }

    private static void pool(Map<String, Function<TurnoutConfig, Object>> k, String key,
                             Function<PoolSettings, Object> f) {
        k.put(key, c -> f.apply(c.pool()));
    }

    private static TurnoutConfig defaults() {
        try {
            return ConfigLoader.parse("auth_type: trust\ndatabases:\n  d: { host: localhost }\n", "defaults", null,
                    Path.of("."));
        } catch (ConfigException e) {
            throw new IllegalStateException(e);
        }
    }

    /** PgBouncer prints durations in seconds (fractions when needed) and empty for unset values. */
    static String text(Object v) {
        if (v == null) {
            return "";
        }
        if (v instanceof Duration d) {
            long ms = d.toMillis();
            return ms % 1000 == 0 ? String.valueOf(ms / 1000) : String.valueOf(ms / 1000.0);
        }
        return String.valueOf(v);
    }

    static AdminResult config(TurnoutConfig config) {
        AdminResult r = new AdminResult("SHOW").columns("key", TEXT, "value", TEXT, "default", TEXT, "changeable", TEXT);
        KEYS.forEach((key, f) -> r.row(key, text(f.apply(config)), text(f.apply(DEFAULTS)),
                RESTART_ONLY.contains(key) ? "no" : "yes"));
        return r;
    }

    static boolean known(String key) {
        return KEYS.containsKey(key);
    }

    static AdminResult version(String version) {
        return new AdminResult("SHOW").columns("version", TEXT).row("Turnout " + version + " (PgBouncer 1.18 compatible)");
    }

    static AdminResult state(boolean paused, boolean suspended) {
        return new AdminResult("SHOW").columns("key", TEXT, "value", TEXT)
                .row("active", !paused && !suspended ? "yes" : "no")
                .row("paused", paused ? "yes" : "no")
                .row("suspended", suspended ? "yes" : "no");
    }

    static final List<String> HELP = List.of(
            "SHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION",
            "SHOW LISTS|STATE|TOPOLOGY|PREPARED",
            "SHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS",
            "SET key = arg",
            "RELOAD",
            "PAUSE [<db>]",
            "RESUME [<db>]",
            "DISABLE <db>",
            "ENABLE <db>",
            "RECONNECT [<db>]",
            "KILL [<db>]",
            "KILL_CLIENT <client_id>",
            "SUSPEND",
            "SHUTDOWN",
            "SHUTDOWN WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS",
            "WAIT_CLOSE [<db>]");
}
