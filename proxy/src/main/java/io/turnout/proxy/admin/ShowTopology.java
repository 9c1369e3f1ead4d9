package io.turnout.proxy.admin;

import static io.turnout.proxy.admin.AdminResult.INT4;
import static io.turnout.proxy.admin.AdminResult.INT8;
import static io.turnout.proxy.admin.AdminResult.TEXT;

import io.turnout.config.DatabaseConfig;
import io.turnout.proxy.TurnoutServer;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.PreparedStatements;
import java.util.Comparator;

/** Turnout's own views: SHOW TOPOLOGY (where each database's leader is) and SHOW PREPARED. */
final class ShowTopology {
    private ShowTopology() {
    }

    static AdminResult topology(TurnoutServer turnout) {
        AdminResult r = new AdminResult("SHOW").columns("database", TEXT, "scope", TEXT, "source", TEXT,
                "leader", TEXT, "leader_member", TEXT, "generation", INT4, "since", TEXT, "stale", INT4,
                "last_error", TEXT);
        for (DatabaseConfig db : turnout.config().databases().values()) {
            int generation = turnout.pools().all().stream().filter(p -> p.database().equals(db.name()))
                    .mapToInt(Pool::generation).max().orElse(0);
            r.row(db.name(), "", "static", db.host() + ":" + db.port(), "", generation,
                    ShowSockets.time(turnout.startedEpochMillis()), 0, "");
        }
        return r;
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
