package io.turnout.config.topology;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Every Patroni member of one shard (scope) as last read from the DCS, with the leader's last LSN from the
 * {@code status} (or legacy {@code optime/leader}) key, so each member's lag is computed the way Patroni's
 * {@code /replica?lag=} check computes it. Immutable; a new snapshot replaces it on every change.
 *
 * @param leaderLsn the leader's last LSN in bytes; 0 when unknown (no status key yet)
 * @param members the readable members, sorted by name
 * @param unreadable members whose key could not be used, by name, with why (for SHOW TOPOLOGY and logs)
 */
public record ShardMembers(String scope, long leaderLsn, List<PatroniMember> members, Map<String, String> unreadable) {
    /** {@link #lag} when the leader's LSN is not known. */
    public static final long LAG_UNKNOWN = -1;

    public ShardMembers {
        Objects.requireNonNull(scope, "scope");
        List<PatroniMember> sorted = new ArrayList<>(members);
        sorted.sort(Comparator.comparing(PatroniMember::name));
        members = List.copyOf(sorted);
        unreadable = Map.copyOf(unreadable);
    }

    public static ShardMembers empty(String scope) {
        return new ShardMembers(scope, 0, List.of(), Map.of());
    }

    /** The member named {@code name}, or null. */
    public PatroniMember member(String name) {
        for (PatroniMember m : members) {
            if (m.name().equals(name)) {
                return m;
            }
        }
        return null;
    }

    /**
     * How many bytes of WAL {@code m} trails the leader: the leader's last LSN minus the member's
     * xlog_location (a member without one trails by all of it, as in Patroni), never below 0;
     * {@link #LAG_UNKNOWN} while the leader's LSN is unknown, which Patroni treats as not lagging.
     */
    public long lag(PatroniMember m) {
        return leaderLsn <= 0 ? LAG_UNKNOWN : Math.max(0, leaderLsn - m.xlogLocation());
    }
}
