package io.turnout.proxy.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.turnout.config.topology.PatroniMember;
import io.turnout.config.topology.ShardMembers;
import io.turnout.proxy.pool.Database;
import io.turnout.proxy.pool.Pool;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per member of the shards that serve reads (issue 17): {@code turnout_replica_lag_bytes{database,member}} as
 * Patroni's {@code /replica?lag=} counts it (NaN while unknown or once the member is gone), and
 * {@code turnout_replica_transactions_total{database,member}}, the transactions it served (as a standby, or as
 * the leader for a database whose route includes it).
 */
final class ReplicaMetrics {
    private final MeterRegistry registry;
    private final MetricsSource turnout;
    private final Set<String> registered = ConcurrentHashMap.newKeySet();

    ReplicaMetrics(MeterRegistry registry, MetricsSource turnout) {
        this.registry = registry;
        this.turnout = turnout;
    }

    /** Registers the members seen since the last scrape. */
    void refresh() {
        for (Database d : turnout.pools().databases()) {
            ShardMembers shard = d.readsReplicas() ? d.reads().members() : null;
            if (shard == null) {
                continue;
            }
            for (PatroniMember m : shard.members()) {
                if (registered.add(d.name() + "\u0000" + m.name())) {
                    register(d.name(), m.name());
                }
            }
        }
    }

    private void register(String db, String member) {
        Gauge.builder("turnout.replica.lag.bytes", () -> lag(db, member)).tags("database", db, "member", member)
                .description("bytes of WAL the member trails its leader (leader LSN minus xlog_location)")
                .register(registry);
        FunctionCounter.builder("turnout.replica.transactions", this, r -> r.transactions(db, member))
                .tags("database", db, "member", member)
                .description("transactions of a database that reads replicas served by the member")
                .register(registry);
    }

    private double lag(String db, String member) {
        Database d = turnout.pools().database(db);
        ShardMembers shard = d == null ? null : d.reads().members();
        PatroniMember m = shard == null ? null : shard.member(member);
        long lag = m == null ? ShardMembers.LAG_UNKNOWN : shard.lag(m);
        return lag == ShardMembers.LAG_UNKNOWN ? Double.NaN : lag;
    }

    private double transactions(String db, String member) {
        long sum = 0;
        for (Pool p : turnout.pools().all()) {
            if (p.database().equals(db)) {
                sum += p.members().leaderPathTransactions(member);
                for (Pool m : p.members().all()) {
                    sum += m.member().name().equals(member) ? m.memberTransactions.sum() : 0;
                }
            }
        }
        return sum;
    }
}
