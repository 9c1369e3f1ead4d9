package io.turnout.config.topology;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One immutable snapshot of every watched Patroni cluster. A source publishes a new snapshot (version + 1)
 * for each real change; consumers swap a volatile reference to it and never see a half-applied update.
 *
 * @param version increases by one per published change, starting at 0 for {@link #EMPTY}
 * @param clusters scope to its state (only watched scopes)
 * @param discoveredScopes scopes that exist under the DCS namespace, for wildcard databases; empty until
 *        discovery is enabled on the source
 * @param members scope to every member with its lag, for the scopes whose members are watched
 *        ({@link TopologySource#watchMembers}); kept apart from {@code clusters} so a member's loop_wait
 *        rewrite never looks like a leader change
 */
public record Topology(long version, Map<String, ClusterState> clusters, Set<String> discoveredScopes,
        Map<String, ShardMembers> members) {
    public static final Topology EMPTY = new Topology(0, Map.of(), Set.of(), Map.of());

    public Topology {
        // sorted copies: stable iteration for SHOW TOPOLOGY and logs, immutability for readers
        clusters = Collections.unmodifiableMap(new TreeMap<>(clusters));
        discoveredScopes = Collections.unmodifiableSet(new TreeSet<>(discoveredScopes));
        members = Collections.unmodifiableMap(new TreeMap<>(members));
    }

    /** The state of {@code scope}, or null when it is not watched. */
    public ClusterState cluster(String scope) {
        return clusters.get(scope);
    }

    /** A new snapshot with {@code state} replacing its scope's entry, or this one when nothing changed. */
    public Topology with(ClusterState state) {
        if (state.sameAs(clusters.get(state.scope()))) {
            return this;
        }
        Map<String, ClusterState> next = new TreeMap<>(clusters);
        next.put(state.scope(), state);
        return new Topology(version + 1, next, discoveredScopes, members);
    }

    /** The members of {@code scope}, or null when they are not watched. */
    public ShardMembers members(String scope) {
        return members.get(scope);
    }

    /** A new snapshot with {@code shard} replacing its scope's members, or this one when nothing changed. */
    public Topology withMembers(ShardMembers shard) {
        if (shard.equals(members.get(shard.scope()))) {
            return this;
        }
        Map<String, ShardMembers> next = new TreeMap<>(members);
        next.put(shard.scope(), shard);
        return new Topology(version + 1, clusters, discoveredScopes, next);
    }

    /** A new snapshot with the given discovered scopes, or this one when they are the same. */
    public Topology withDiscovered(Set<String> scopes) {
        if (discoveredScopes.equals(new TreeSet<>(scopes))) {
            return this;
        }
        return new Topology(version + 1, clusters, scopes, members);
    }

    /** Scopes whose leader differs between {@code older} and this snapshot (what a retarget must look at). */
    public Set<String> leaderChangesSince(Topology older) {
        Set<String> changed = new LinkedHashSet<>();
        for (ClusterState s : clusters.values()) {
            if (s.leaderDiffers(older.cluster(s.scope()))) {
                changed.add(s.scope());
            }
        }
        return changed;
    }
}
