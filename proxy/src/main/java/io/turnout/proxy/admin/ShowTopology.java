package io.turnout.proxy.admin;

import static io.turnout.proxy.admin.AdminResult.INT4;
import static io.turnout.proxy.admin.AdminResult.INT8;
import static io.turnout.proxy.admin.AdminResult.TEXT;

import io.turnout.config.DatabaseConfig;
import io.turnout.config.topology.ClusterState;
import io.turnout.config.topology.PatroniMember;
import io.turnout.config.topology.ShardMembers;
import io.turnout.proxy.pool.Database;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.PreparedStatements;
import io.turnout.proxy.pool.ReadRoutes;
import io.turnout.proxy.pool.StaticHosts;
import java.util.Comparator;

/** Turnout's own views: SHOW TOPOLOGY (where each database's leader is) and SHOW PREPARED. */
final class ShowTopology {
    private ShowTopology() {
    }

    /**
     * A row per database, then for a database that reads replicas a row per member of its shard (per host of a
     * static list routed by role): the last five
     * columns (member, member_role, lag_bytes, in_use servers, routed: "yes" or why not) are empty on
     * database rows, and a member row repeats the database, scope and source.
     */
    static AdminResult topology(Pooler turnout, Snapshot snap) {
        AdminResult r = new AdminResult("SHOW").columns("database", TEXT, "scope", TEXT, "source", TEXT,
                "leader", TEXT, "leader_member", TEXT, "generation", INT4, "since", TEXT, "stale", INT4,
                "last_error", TEXT, "state", TEXT, "candidate", TEXT, "switchover_age_ms", INT8, "paused", INT4,
                "member", TEXT, "member_role", TEXT, "lag_bytes", INT8, "in_use", INT4, "routed", TEXT);
        java.util.Map<String, Database> shown = new java.util.TreeMap<>();
        turnout.config().databases().values().forEach(c -> shown.put(c.name(), turnout.pools().database(c)));
        turnout.pools().databases().forEach(d -> shown.putIfAbsent(d.name(), d));
        shown.values().forEach(d -> {
            DatabaseConfig db = d.config();
            int generation = turnout.pools().all().stream().filter(p -> p.db() == d).mapToInt(Pool::generation)
                    .max().orElse(0);
            ClusterState c = d.cluster();
            if (!db.isPatroni()) {
                r.row(db.name(), "", "static", db.host() + ":" + db.port(), "", generation,
                        ShowSockets.time(turnout.startedEpochMillis()), 0, "", "leader", "", null, 0, "", "", null, null,
                        "");
                if (d.staticHosts() != null) {
                    hosts(r, d, snap);
                }
            } else {
                String state = c == null ? "unknown" : c.status().name().toLowerCase(java.util.Locale.ROOT);
                r.row(db.name(), db.patroniScope(), turnout.topologySource(), c != null && c.leader() != null ? c.leader().toString() : "",
                        c != null && c.leaderName() != null ? c.leaderName() : "", generation,
                        c != null ? ShowSockets.time(c.since().toEpochMilli()) : "", c != null && c.stale(),
                        c == null ? "not read yet" : c.lastError() != null ? c.lastError()
                                : c.hasLeader() ? "" : state,
                        state, c != null && c.candidate() != null ? c.candidate() : "",
                        c != null && c.drainingSince() != null
                                ? java.time.Duration.between(c.drainingSince(), java.time.Instant.now()).toMillis() : null,
                        c != null && c.paused() ? 1 : 0, "", "", null, null, "");
                if (d.readsReplicas()) {
                    members(r, d, turnout.topologySource(), snap);
                }
            }
        });
        return r;
    }

    private static void members(AdminResult r, Database d, String source, Snapshot snap) {
        ShardMembers shard = d.reads().members();
        if (shard == null) {
            return;
        }
        for (PatroniMember m : shard.members()) {
            long lag = shard.lag(m);
            long inUse = snap.servers().stream().filter(s -> s.database().equals(d.name())
                    && s.member().equals(m.name()) && s.state().equals("active")).count();
            String why = d.reads().whyNot(m);
            r.row(d.name(), d.config().patroniScope(), source, "", "", null, "", 0, "",
                    "member", "", null, 0, m.name(), m.role() + "/" + m.state(),
                    lag == ShardMembers.LAG_UNKNOWN ? null : lag, inUse, why == null ? "yes" : why);
        }
    }

    /** A row per host of a static list routed by role: what it last said it is, and whether it takes transactions. */
    private static void hosts(AdminResult r, Database d, Snapshot snap) {
        StaticHosts hosts = d.staticHosts();
        for (ReadRoutes.Target t : hosts.targets()) {
            long inUse = snap.servers().stream().filter(s -> s.database().equals(d.name())
                    && s.member().equals(t.name()) && s.state().equals("active")).count();
            String why = hosts.whyNot(t);
            r.row(d.name(), "", "static", "", "", null, "", 0, "", "member", "", null, 0, t.name(), hosts.role(t),
                    null, inUse, why == null ? "yes" : why);
        }
    }

    static AdminResult prepared(PreparedStatements registry) {
        AdminResult r = new AdminResult("SHOW").columns("name", TEXT, "query", TEXT, "client_parse_count", INT8,
                "server_parse_count", INT8, "bind_count", INT8);
        registry.all().stream()
                .sorted(Comparator.comparingLong(s -> Long.parseLong(s.serverName().substring(2))))
                .forEach(s -> r.row(s.serverName(), s.query(), s.counters().clientParses.sum(),
                        s.counters().serverParses.sum(), s.counters().binds.sum()));
        return r;
    }
}
