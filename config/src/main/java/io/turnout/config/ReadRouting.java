package io.turnout.config;

import java.util.Objects;

/**
 * Which members of a database's backend take its transactions and how they are spread (issue 17).
 *
 * @param targetSessionAttrs which roles are acceptable (libpq's vocabulary)
 * @param maxReplicaLag the most a standby may trail the leader, in bytes of WAL, as Patroni's own
 *        {@code /replica?lag=} check counts it; {@link #NO_LAG_LIMIT} when not set
 * @param loadBalanceHosts how a static comma list of hosts is walked
 */
public record ReadRouting(TargetSessionAttrs targetSessionAttrs, long maxReplicaLag, LoadBalanceHosts loadBalanceHosts) {
    public static final long NO_LAG_LIMIT = Long.MAX_VALUE;
    /** Today's behaviour: the leader (or the one static host) only. */
    public static final ReadRouting PRIMARY = new ReadRouting(TargetSessionAttrs.PRIMARY, NO_LAG_LIMIT,
            LoadBalanceHosts.ROUND_ROBIN);

    public ReadRouting {
        Objects.requireNonNull(targetSessionAttrs, "targetSessionAttrs");
        Objects.requireNonNull(loadBalanceHosts, "loadBalanceHosts");
        if (maxReplicaLag < 0) {
            throw new IllegalArgumentException("negative max_replica_lag " + maxReplicaLag);
        }
    }

    /** True when a standby's lag is limited. */
    public boolean lagLimited() {
        return maxReplicaLag != NO_LAG_LIMIT;
    }
}
