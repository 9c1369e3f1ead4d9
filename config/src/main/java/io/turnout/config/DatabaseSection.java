package io.turnout.config;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads one entry of {@code databases:} into a {@link DatabaseConfig}: a static host (or PgBouncer's comma
 * list of hosts) or a Patroni scope, pool overrides, and which members serve it (target_session_attrs,
 * max_replica_lag, load_balance_hosts).
 */
final class DatabaseSection {
    static final List<String> KEYS = List.of(
            "host", "port", "dbname", "user", "password", "pool_size", "min_pool_size", "reserve_pool_size",
            "pool_mode", "max_db_connections", "auth_user", "patroni_scope",
            "server_tls_sslmode", "target_session_attrs", "max_replica_lag", "load_balance_hosts");

    private DatabaseSection() {
    }

    static DatabaseConfig parse(YamlSection dbs, String name, PoolSettings pool, boolean dcs) throws ConfigException {
        YamlSection db = dbs.section(name);
        db.rejectUnknown(KEYS);
        if (name.indexOf('*') != name.lastIndexOf('*')) {
            throw dbs.error(name, "only one * is supported in a database name (e.g. shard_* or shard_*_ro)");
        }
        boolean template = name.indexOf('*') >= 0;
        String scope = db.string("patroni_scope", null);
        String host = null;
        if (scope != null) {
            if (db.has("host")) {
                throw db.error("patroni_scope", "host and patroni_scope are exclusive: a Patroni database takes"
                        + " its host and port from the cluster's leader");
            }
            if (db.has("port")) {
                throw db.error("port", "a patroni_scope database takes its port from the leader's conn_url");
            }
            if (!dcs) {
                throw db.error("patroni_scope", "needs a consul: or etcd: section (where Patroni's keys are read)");
            }
            scope = scope.strip();
            String concrete = template ? scope : scope.replace(DatabaseConfig.DB_PLACEHOLDER, name);
            if (concrete.isEmpty() || concrete.indexOf('/') >= 0) {
                throw db.error("patroni_scope", "expected a Patroni scope name (no slashes), got '" + scope + "'");
            }
            scope = concrete;
        } else if (!db.has("host")) {
            throw dbs.error(name, dcs ? "host or patroni_scope is required" : "host is required");
        } else {
            host = hosts(db);
        }
        String user = db.string("user", null);
        String password = db.string("password", null);
        if (password != null && user == null) {
            throw db.error("password", "password needs user (the server login it belongs to)");
        }
        String dbname = db.string("dbname", template ? DatabaseConfig.DB_PLACEHOLDER : name);
        return new DatabaseConfig(name,
                host,
                scope != null ? 0 : db.integer("port", 5432, 1, 65535),
                template ? dbname : dbname.replace(DatabaseConfig.DB_PLACEHOLDER, name),
                user,
                password,
                db.integer("pool_size", pool.defaultPoolSize(), 1, 100_000),
                db.integer("min_pool_size", pool.minPoolSize(), 0, 100_000),
                db.integer("reserve_pool_size", pool.reservePoolSize(), 0, 100_000),
                ConfigLoader.enumValue(db, "pool_mode", pool.poolMode().key(), PoolMode::of,
                        "session, transaction, statement"),
                db.integer("max_db_connections", pool.maxDbConnections(), 0, 1_000_000),
                db.string("auth_user", null),
                scope,
                routing(db, scope != null));
    }

    /** {@code host}, or PgBouncer's comma list of hosts (one port for all), with blanks around commas dropped. */
    private static String hosts(YamlSection db) throws ConfigException {
        List<String> out = new ArrayList<>();
        for (String h : db.string("host", "").split(",", -1)) {
            String part = h.strip();
            if (part.isEmpty()) {
                throw db.error("host", "empty host in '" + db.string("host", "") + "' (a comma list names one host"
                        + " between each pair of commas)");
            }
            out.add(part);
        }
        return String.join(",", out);
    }

    private static ReadRouting routing(YamlSection db, boolean patroni) throws ConfigException {
        TargetSessionAttrs target = ConfigLoader.enumValue(db, "target_session_attrs", "primary",
                TargetSessionAttrs::of, TargetSessionAttrs.ALLOWED);
        long maxLag = db.bytes("max_replica_lag", ReadRouting.NO_LAG_LIMIT);
        if (db.has("max_replica_lag")) {
            if (target.leaderOnly()) {
                throw db.error("max_replica_lag", "limits standbys, and target_session_attrs " + target.key()
                        + " sends every transaction to the leader; set standby, prefer-standby, read-only or any");
            }
            if (!patroni) {
                throw db.error("max_replica_lag", "needs patroni_scope: a standby's lag is read from Patroni's keys"
                        + " (the leader's last LSN minus the member's xlog_location)");
            }
        }
        if (patroni && db.has("load_balance_hosts")) {
            throw db.error("load_balance_hosts", "applies to a static comma list of hosts; a patroni_scope database"
                    + " spreads transactions over its eligible members by their outstanding transactions");
        }
        return new ReadRouting(target, maxLag, ConfigLoader.enumValue(db, "load_balance_hosts", "round-robin",
                LoadBalanceHosts::of, LoadBalanceHosts.ALLOWED));
    }
}
