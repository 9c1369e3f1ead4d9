package io.turnout.proxy.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.turnout.proxy.tls.TlsHandshakes;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.turnout.config.DatabaseConfig;
import io.turnout.proxy.admin.Snapshot;
import io.turnout.proxy.client.LoginFailures;
import io.turnout.proxy.pool.Database;
import io.turnout.proxy.pool.SwitchoverDrain;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.ShardStats;
import io.turnout.proxy.pool.StatsTotals;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * The Prometheus registry. Pool gauges and traffic counters read the {@link Snapshot} taken at the start
 * of each scrape (the event loops own the live numbers); client waits are recorded as they happen into a
 * histogram per database. Besides Turnout's own names, the families the common PgBouncer exporter
 * produces (pgbouncer_pools_*, pgbouncer_stats_totals_*, pgbouncer_databases_*) are offered under the
 * same names and labels, so existing dashboards and alerts keep working.
 */
public final class Metrics {
    /** Help text of each family (promtool wants one on every metric). */
    private static final Map<String, String> HELP = Map.ofEntries(
            Map.entry("pgbouncer.pools.client.active.connections", "clients linked to a server or idle, per pool (PgBouncer cl_active)"),
            Map.entry("pgbouncer.pools.client.waiting.connections", "clients waiting for a server, per pool (cl_waiting)"),
            Map.entry("pgbouncer.pools.server.active.connections", "servers linked to a client (sv_active)"),
            Map.entry("pgbouncer.pools.server.idle.connections", "servers ready for a client (sv_idle)"),
            Map.entry("pgbouncer.pools.server.used.connections", "servers being reset or rolled back (sv_used)"),
            Map.entry("pgbouncer.pools.server.testing.connections", "servers running server_check_query (sv_tested)"),
            Map.entry("pgbouncer.pools.server.login.connections", "servers logging in (sv_login)"),
            Map.entry("pgbouncer.pools.client.maxwait.seconds", "how long the oldest waiting client has waited (maxwait)"),
            Map.entry("turnout.pool.clients", "clients per pool and state"),
            Map.entry("turnout.pool.servers", "servers per pool and state"),
            Map.entry("pgbouncer.stats.totals.queries.pooled", "requests (queries, Syncs) that got their ReadyForQuery"),
            Map.entry("pgbouncer.stats.totals.sql.transactions.pooled", "transactions that ended"),
            Map.entry("pgbouncer.stats.totals.queries.duration.seconds", "time from each request to its ReadyForQuery"),
            Map.entry("pgbouncer.stats.totals.server.in.transaction.seconds", "time spent in transactions"),
            Map.entry("pgbouncer.stats.totals.client.wait.seconds", "time clients waited for a server"),
            Map.entry("pgbouncer.stats.totals.server.assignments", "times a server was given to a client"),
            Map.entry("pgbouncer.stats.totals.received.bytes", "bytes received from clients"),
            Map.entry("pgbouncer.stats.totals.sent.bytes", "bytes sent to clients"),
            Map.entry("turnout.transactions", "transactions that ended"),
            Map.entry("turnout.queries", "requests that got their ReadyForQuery"),
            Map.entry("turnout.received.bytes", "bytes received from clients"),
            Map.entry("turnout.sent.bytes", "bytes sent to clients"),
            Map.entry("turnout.client.parses", "named Parse messages from clients"),
            Map.entry("turnout.server.parses", "Parse messages sent to servers for named statements"),
            Map.entry("turnout.binds", "Binds of named statements"),
            Map.entry("pgbouncer.databases.pool.size", "pool_size"),
            Map.entry("pgbouncer.databases.reserve.pool", "reserve_pool_size"),
            Map.entry("pgbouncer.databases.max.connections", "max_db_connections (0 = no limit)"),
            Map.entry("pgbouncer.databases.current.connections", "server connections of the database"),
            Map.entry("pgbouncer.databases.paused", "1 while PAUSEd or KILLed"),
            Map.entry("pgbouncer.databases.disabled", "1 while DISABLEd"),
            Map.entry("turnout.failovers", "times the database's Patroni leader moved to another node"),
            Map.entry("turnout.topology.changes", "cluster states applied (leader, no leader, stale, errors)"),
            Map.entry("turnout.topology.watch.errors", "cluster states that carried a DCS read error"),
            Map.entry("turnout.topology.stale", "1 while the DCS cannot be read and the last leader is kept"),
            Map.entry("turnout.topology.leader.known", "1 while new transactions have a leader to go to"),
            Map.entry("turnout.switchovers", "planned Patroni switchovers by how they ended (completed, cancelled, "
                    + "timed_out)"),
            Map.entry("turnout.switchover.hold.seconds", "time new transactions were held by ended switchovers"),
            Map.entry("turnout.switchover.last.hold.seconds", "how long the last switchover held new transactions"),
            Map.entry("turnout.topology.draining", "1 while a switchover drains the leader (new transactions held)"));

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final MetricsSource turnout;
    private final Set<Pool> registeredPools = ConcurrentHashMap.newKeySet();
    private final Set<String> registeredDatabases = ConcurrentHashMap.newKeySet();
    private final ReplicaMetrics replicas;
    private volatile Snapshot latest = new Snapshot(java.util.List.of(), java.util.List.of(), java.util.Map.of(), 0);

    public Metrics(MetricsSource turnout) {
        this.turnout = turnout;
        this.replicas = new ReplicaMetrics(registry, turnout);
        // two of Micrometer's names break Prometheus conventions (promtool flags them); usage gauges remain
        registry.config().meterFilter(io.micrometer.core.instrument.config.MeterFilter.denyNameStartsWith("process.cpu.time"));
        registry.config().meterFilter(io.micrometer.core.instrument.config.MeterFilter.denyNameStartsWith("system.cpu.count"));
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        Gauge.builder("pgbouncer.up", () -> 1).description("1 while the admin console answers (Turnout is up)")
                .register(registry);
        Gauge.builder("pgbouncer.version.info", () -> 1).tags("version", turnout.version())
                .description("Turnout's version").register(registry);
        Gauge.builder("pgbouncer.config.max.client.connections", () -> turnout.config().pool().maxClientConn())
                .description("max_client_conn").register(registry);
        Gauge.builder("turnout.clients", () -> turnout.clientConnections())
                .description("client connections, all databases").register(registry);
        Gauge.builder("turnout.ready", () -> turnout.readiness().isEmpty() ? 1 : 0)
                .description("1 when /ready answers 200").register(registry);
        tlsHandshakes("client", "ok", TlsHandshakes.CLIENT_OK);
        tlsHandshakes("client", "failed", TlsHandshakes.CLIENT_FAILED);
        tlsHandshakes("server", "ok", TlsHandshakes.SERVER_OK);
        tlsHandshakes("server", "failed", TlsHandshakes.SERVER_FAILED);
        for (String reason : LoginFailures.reasons()) {
            FunctionCounter.builder("turnout.client.login.failures", LoginFailures.of(reason),
                            java.util.concurrent.atomic.LongAdder::sum).tags("reason", reason)
                    .description("client logins that failed, by reason (password, certificate, admin_refused, timeout)")
                    .register(registry);
        }
    }

    private void tlsHandshakes(String side, String result, java.util.concurrent.atomic.LongAdder count) {
        FunctionCounter.builder("turnout.tls.handshakes", count, java.util.concurrent.atomic.LongAdder::sum)
                .tags("side", side, "result", result)
                .description("TLS handshakes with clients (side=client) and PostgreSQL (side=server)")
                .register(registry);
    }

    /**
     * A histogram of client waits for database {@code db} (a few buckets, for histogram_quantile), with its
     * p50 and p99 over the last minutes also served as gauges; pools record into it on their loops.
     */
    public ShardStats.WaitRecorder waitRecorder(String db) {
        Timer timer = Timer.builder("turnout.client.wait").tag("database", db)
                .description("time a client waited for a server connection")
                .serviceLevelObjectives(WAIT_BUCKETS)
                .publishPercentiles(0.5, 0.99)
                .register(registry);
        Gauge.builder("turnout.client.wait.p50.seconds", timer, t -> quantile(t, 0.5)).tags("database", db)
                .description("median client wait for a server over a sliding window").register(registry);
        Gauge.builder("turnout.client.wait.p99.seconds", timer, t -> quantile(t, 0.99)).tags("database", db)
                .description("99th percentile client wait for a server over a sliding window").register(registry);
        return nanos -> timer.record(nanos, TimeUnit.NANOSECONDS);
    }

    private static final Duration[] WAIT_BUCKETS = {Duration.ofNanos(100_000), Duration.ofMillis(1),
            Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
            Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
            Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(120)};

    private static double quantile(Timer t, double q) {
        for (var v : t.takeSnapshot().percentileValues()) {
            if (v.percentile() == q) {
                return v.value(TimeUnit.SECONDS);
            }
        }
        return Double.NaN;
    }

    /** Takes a fresh snapshot (bounded wait) and renders the registry in Prometheus text format. */
    public String scrape() {
        try {
            latest = turnout.snapshot().get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            // a stuck loop must not hide the rest of the metrics: serve the previous snapshot
        }
        for (Pool p : turnout.pools().all()) {
            if (registeredPools.add(p)) {
                registerPool(p);
            }
        }
        for (DatabaseConfig db : turnout.config().databases().values()) {
            turnout.pools().database(db); // configured databases have gauges before their first client
        }
        for (Database d : turnout.pools().databases()) { // ... and wildcard ones once used
            if (registeredDatabases.add(d.name())) {
                registerDatabase(d.name());
            }
        }
        replicas.refresh();
        return registry.scrape("text/plain; version=0.0.4; charset=utf-8");
    }

    private void registerPool(Pool p) {
        Tags tags = Tags.of("database", p.database(), "user", p.user());
        poolGauge("pgbouncer.pools.client.active.connections", tags, p, c -> c.clActive());
        poolGauge("pgbouncer.pools.client.waiting.connections", tags, p, c -> c.clWaiting());
        poolGauge("pgbouncer.pools.server.active.connections", tags, p, c -> c.svActive());
        poolGauge("pgbouncer.pools.server.idle.connections", tags, p, c -> c.svIdle());
        poolGauge("pgbouncer.pools.server.used.connections", tags, p, c -> c.svUsed());
        poolGauge("pgbouncer.pools.server.testing.connections", tags, p, c -> c.svTested());
        poolGauge("pgbouncer.pools.server.login.connections", tags, p, c -> c.svLogin());
        poolGauge("pgbouncer.pools.client.maxwait.seconds", tags, p, c -> c.maxWaitNanos() / 1e9);
        for (String state : new String[] {"active", "waiting"}) {
            poolGauge("turnout.pool.clients", tags.and("state", state), p,
                    c -> state.equals("active") ? c.clActive() : c.clWaiting());
        }
        for (String state : new String[] {"active", "idle", "used", "tested", "login"}) {
            poolGauge("turnout.pool.servers", tags.and("state", state), p, c -> switch (state) {
                case "active" -> c.svActive();
                case "idle" -> c.svIdle();
                case "used" -> c.svUsed();
                case "tested" -> c.svTested();
                default -> c.svLogin();
            });
        }
    }

    private void poolGauge(String name, Tags tags, Pool p, ToDoubleFunction<Snapshot.PoolCounts> f) {
        Gauge.builder(name, () -> f.applyAsDouble(latest.counts(p))).tags(tags).description(HELP.get(name))
                .register(registry);
    }

    private void registerDatabase(String name) {
        Tags db = Tags.of("database", name);
        counter("pgbouncer.stats.totals.queries.pooled", db, name, t -> t.queries);
        counter("pgbouncer.stats.totals.sql.transactions.pooled", db, name, t -> t.xacts);
        counter("pgbouncer.stats.totals.queries.duration.seconds", db, name, t -> t.queryNanos / 1e9);
        counter("pgbouncer.stats.totals.server.in.transaction.seconds", db, name, t -> t.xactNanos / 1e9);
        counter("pgbouncer.stats.totals.client.wait.seconds", db, name, t -> t.waitNanos / 1e9);
        counter("pgbouncer.stats.totals.server.assignments", db, name, t -> t.assignments);
        counter("pgbouncer.stats.totals.received.bytes", db, name, t -> t.received);
        counter("pgbouncer.stats.totals.sent.bytes", db, name, t -> t.sent);
        counter("turnout.transactions", db, name, t -> t.xacts);
        counter("turnout.queries", db, name, t -> t.queries);
        counter("turnout.received.bytes", db, name, t -> t.received);
        counter("turnout.sent.bytes", db, name, t -> t.sent);
        counter("turnout.client.parses", db, name, t -> t.clientParses);
        counter("turnout.server.parses", db, name, t -> t.serverParses);
        counter("turnout.binds", db, name, t -> t.binds);
        DatabaseConfig c = turnout.pools().database(name).config();
        counterOf("turnout.failovers", db, name, Database::leaderChanges);
        counterOf("turnout.topology.changes", db, name, Database::topologyChanges);
        counterOf("turnout.topology.watch.errors", db, name, Database::watchErrors);
        Gauge.builder("turnout.topology.stale", () -> {
            Database d = turnout.pools().database(name);
            return d != null && d.cluster() != null && d.cluster().stale() ? 1 : 0;
        }).tags(db).description(HELP.get("turnout.topology.stale")).register(registry);
        Gauge.builder("turnout.topology.leader.known", () -> {
            Database d = turnout.pools().database(name);
            return d != null && d.address() != null ? 1 : 0;
        }).tags(db).description(HELP.get("turnout.topology.leader.known")).register(registry);
        for (SwitchoverDrain.Result r : SwitchoverDrain.Result.values()) {
            counterOf("turnout.switchovers", db.and("result", r.label()), name, d -> d.switchover().count(r));
        }
        FunctionCounter.builder("turnout.switchover.hold.seconds", this, m -> {
            Database d = turnout.pools().database(name);
            return d == null ? 0 : d.switchover().holdNanosTotal() / 1e9;
        }).tags(db).description(HELP.get("turnout.switchover.hold.seconds")).register(registry);
        Gauge.builder("turnout.switchover.last.hold.seconds", () -> {
            Database d = turnout.pools().database(name);
            return d == null ? 0 : d.switchover().lastHoldNanos() / 1e9;
        }).tags(db).description(HELP.get("turnout.switchover.last.hold.seconds")).register(registry);
        Gauge.builder("turnout.topology.draining", () -> {
            Database d = turnout.pools().database(name);
            return d != null && d.cluster() != null && d.cluster().draining() ? 1 : 0;
        }).tags(db).description(HELP.get("turnout.topology.draining")).register(registry);
        Tags labels = Tags.of("name", name, "database", c.dbname(),
                "host", c.host() != null ? c.host() : "patroni:" + c.patroniScope(), "port", String.valueOf(c.port()),
                "pool_mode", c.poolMode().key(), "force_user", c.user() != null ? c.user() : "");
        dbGauge("pgbouncer.databases.pool.size", labels, name, (d, cfg) -> cfg.poolSize());
        dbGauge("pgbouncer.databases.reserve.pool", labels, name, (d, cfg) -> cfg.reservePoolSize());
        dbGauge("pgbouncer.databases.max.connections", labels, name, (d, cfg) -> cfg.maxDbConnections());
        dbGauge("pgbouncer.databases.current.connections", labels, name, (d, cfg) -> d != null ? d.serverCount() : 0);
        dbGauge("pgbouncer.databases.paused", labels, name, (d, cfg) -> d != null && d.paused() ? 1 : 0);
        dbGauge("pgbouncer.databases.disabled", labels, name, (d, cfg) -> d != null && d.disabled() ? 1 : 0);
    }

    private void counter(String name, Tags tags, String db, ToDoubleFunction<StatsTotals> f) {
        FunctionCounter.builder(name, this, m -> {
            StatsTotals t = m.latest.statsByDatabase().get(db);
            return t == null ? 0 : f.applyAsDouble(t);
        }).tags(tags).description(HELP.get(name)).register(registry);
    }

    private void counterOf(String name, Tags tags, String db, java.util.function.ToLongFunction<Database> f) {
        FunctionCounter.builder(name, this, m -> {
            Database d = turnout.pools().database(db);
            return d == null ? 0 : f.applyAsLong(d);
        }).tags(tags).description(HELP.get(name)).register(registry);
    }

    private interface DbValue {
        double value(Database state, DatabaseConfig config);
    }

    private void dbGauge(String name, Tags tags, String db, DbValue f) {
        Gauge.builder(name, () -> {
            Database d = turnout.pools().database(db);
            return d == null ? Double.NaN : f.value(d, d.config());
        }).tags(tags).description(HELP.get(name)).register(registry);
    }
}
