package io.turnout.proxy.admin;

import static io.turnout.proxy.admin.AdminResult.INT4;
import static io.turnout.proxy.admin.AdminResult.TEXT;

import io.turnout.config.DatabaseConfig;
import io.turnout.config.TurnoutConfig;
import io.turnout.proxy.pool.ConnectionInfo;
import io.turnout.proxy.pool.Database;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.Pools;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * SHOW POOLS, DATABASES, USERS and LISTS: the pool registry with PgBouncer's columns and types. POOLS and
 * DATABASES follow PgBouncer 1.18's layout (what its exporters read), newer PgBouncer columns after it,
 * and list the admin console as PgBouncer lists its own virtual {@code pgbouncer} database.
 */
final class ShowPools {
    /** The admin console as a database: PgBouncer's virtual database, its user and its mode. */
    static final String CONSOLE = "pgbouncer";

    private ShowPools() {
    }

    static List<Pool> sorted(Pools pools) {
        return pools.all().stream().sorted(Comparator.comparing(Pool::database).thenComparing(Pool::user)).toList();
    }

    static AdminResult pools(Snapshot snap, Pools pools) {
        AdminResult r = new AdminResult("SHOW").columns("database", TEXT, "user", TEXT, "cl_active", INT4,
                "cl_waiting", INT4, "cl_active_cancel_req", INT4, "cl_waiting_cancel_req", INT4, "sv_active", INT4,
                "sv_active_cancel", INT4, "sv_being_canceled", INT4, "sv_idle", INT4, "sv_used", INT4,
                "sv_tested", INT4, "sv_login", INT4, "maxwait", INT4, "maxwait_us", INT4, "pool_mode", TEXT,
                "load_balance_hosts", TEXT);
        for (Pool p : sorted(pools)) {
            Snapshot.PoolCounts c = snap.counts(p);
            long waitUs = c.maxWaitNanos() / 1000;
            r.row(p.database(), p.user(), c.clActive(), c.clWaiting(), 0, 0, c.svActive(), 0, 0, c.svIdle(),
                    c.svUsed(), c.svTested(), c.svLogin(), waitUs / 1_000_000, waitUs % 1_000_000, p.mode().key(),
                    balance(p.databaseConfig()));
        }
        long console = snap.clients().stream().filter(ConnectionInfo::admin).count();
        r.row(CONSOLE, CONSOLE, console, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "statement", null);
        return r;
    }

    static AdminResult databases(Snapshot snap, Pools pools, TurnoutConfig config, int listenPort) {
        AdminResult r = new AdminResult("SHOW").columns("name", TEXT, "host", TEXT, "port", INT4, "database", TEXT,
                "force_user", TEXT, "pool_size", INT4, "min_pool_size", INT4, "reserve_pool", INT4, "pool_mode", TEXT,
                "max_connections", INT4, "current_connections", INT4, "paused", INT4, "disabled", INT4,
                "server_lifetime", INT4, "load_balance_hosts", TEXT, "max_client_connections", INT4,
                "current_client_connections", INT4);
        java.util.Map<String, DatabaseConfig> shown = new java.util.TreeMap<>(config.databases());
        pools.databases().stream().filter(d -> !d.removed())
                .forEach(d -> shown.putIfAbsent(d.name(), d.config())); // wildcard ones in use
        boolean consoleShown = false;
        for (DatabaseConfig db : shown.values()) {
            if (!consoleShown && db.name().compareTo(CONSOLE) > 0) {
                consoleShown = consoleRow(r, snap, listenPort);
            }
            Database d = pools.database(db);
            int servers = (int) snap.servers().stream().filter(s -> s.database().equals(db.name())).count();
            int clients = (int) snap.clients().stream().filter(c -> c.pool() != null && c.database().equals(db.name()))
                    .count();
            java.net.InetSocketAddress at = d != null ? d.address() : null; // a Patroni database: its leader
            r.row(db.name(), at != null ? at.getHostString() : db.host(), at != null ? at.getPort() : db.port(),
                    db.dbname(), db.user(), db.poolSize(), db.minPoolSize(), db.reservePoolSize(), db.poolMode().key(),
                    db.maxDbConnections(), servers, d != null && d.paused(), d != null && d.disabled(),
                    config.pool().serverLifetime().toSeconds(), balance(db),
                    config.pool().clientLimits().maxDbClientConnections(), clients);
        }
        if (!consoleShown) {
            consoleRow(r, snap, listenPort);
        }
        return r;
    }

    /** load_balance_hosts, as PgBouncer 1.24 shows it: for a comma list of hosts only. */
    private static String balance(DatabaseConfig db) {
        return db.hosts().size() > 1 ? db.routing().loadBalanceHosts().key() : null;
    }

    /** PgBouncer 1.18's row for its virtual database: no host, its own port, pool size 2, statement mode. */
    private static boolean consoleRow(AdminResult r, Snapshot snap, int listenPort) {
        long clients = snap.clients().stream().filter(ConnectionInfo::admin).count();
        r.row(CONSOLE, null, listenPort, CONSOLE, CONSOLE, 2, 0, 0, "statement", 0, 0, 0, 0, 0, null, 0,
                clients);
        return true;
    }

    static AdminResult users(Snapshot snap, Pools pools, TurnoutConfig config) {
        AdminResult r = new AdminResult("SHOW").columns("name", TEXT, "pool_size", TEXT, "reserve_pool_size", TEXT,
                "pool_mode", TEXT, "max_user_connections", INT4, "current_connections", INT4,
                "max_user_client_connections", INT4, "current_client_connections", INT4);
        Set<String> users = new TreeSet<>(config.users().keySet());
        pools.all().forEach(p -> users.add(p.user()));
        for (String u : users) {
            long servers = snap.servers().stream().filter(s -> s.user().equals(u)).count();
            long clients = snap.clients().stream().filter(c -> c.user().equals(u) && !c.admin()).count();
            r.row(u, "", "", null, config.pool().maxUserConnections(), servers,
                    config.pool().clientLimits().maxUserClientConnections(), clients);
        }
        return r;
    }

    static AdminResult lists(Snapshot snap, Pools pools, TurnoutConfig config) {
        Set<String> users = new TreeSet<>(config.users().keySet());
        pools.all().forEach(p -> users.add(p.user()));
        long login = snap.clients().stream().filter(c -> c.state().equals("login")).count();
        return new AdminResult("SHOW").columns("list", TEXT, "items", INT4)
                .row("databases", config.databases().size() + 1) // + the console, as PgBouncer counts it
                .row("users", users.size())
                .row("pools", pools.all().size() + 1)
                .row("free_clients", 0)
                .row("used_clients", snap.clients().size())
                .row("login_clients", login)
                .row("free_servers", 0)
                .row("used_servers", snap.servers().size())
                .row("dns_names", 0)
                .row("dns_zones", 0)
                .row("dns_queries", 0)
                .row("dns_pending", 0);
    }
}
