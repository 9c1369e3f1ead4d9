package io.turnout.proxy.pool;

import io.turnout.config.ReadRouting;
import io.turnout.config.topology.ClusterState;
import io.turnout.config.topology.PatroniMember;
import io.turnout.config.topology.ReplicaSelector;
import io.turnout.config.topology.ShardMembers;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Where new transactions of a database that reads replicas go (issue 17): the members {@link ReplicaSelector}
 * finds eligible in the latest cluster state and member keys, minus those whose server proved at login not to be
 * a standby; such a member stays out until its key changes role, state, timeline or address. The topology thread
 * and (for a refusal) an event loop write it, so writes are synchronized; the pools read the immutable
 * {@link Route} through a volatile.
 */
public final class ReadRoutes {
    /** One member new transactions may go to: its Patroni name and conn_url address, or a static host and port. */
    public record Target(String name, InetSocketAddress address) {
        /** Identity of the member pool: a member that moves to another address gets a new one. */
        String key() {
            return name + "@" + address.getHostString() + ":" + address.getPort();
        }
    }

    /**
     * @param standbys eligible standbys, by name (a {@link StaticHosts} list: its hosts that fit, whatever their role)
     * @param leader the leader path takes transactions too (any), or instead (prefer-standby without standbys)
     * @param holdReason why there is nothing to send to, for the 08006 after failover_hold_timeout
     */
    public record Route(List<Target> standbys, boolean leader, String holdReason) {
        boolean sameTargets(Route o) {
            return o != null && leader == o.leader && standbys.equals(o.standbys);
        }
    }

    private volatile Route route;
    private ClusterState cluster;
    private ShardMembers members;
    /** Members refused at login, with their key as it was then. */
    private final Map<String, PatroniMember> refused = new HashMap<>();
    private ReadRouting routing;

    /** The route in force, or null until the shard's members were read. */
    public Route route() {
        return route;
    }

    /** The members as last applied (null: not read yet), for SHOW TOPOLOGY and metrics. */
    public synchronized ShardMembers members() {
        return members;
    }

    /** Why {@code m} takes no new transaction, or null when it does. */
    public synchronized String whyNot(PatroniMember m) {
        if (refused.containsKey(m.name())) {
            return "refused at login: not a standby";
        }
        String leader = cluster == null ? null : cluster.leaderName();
        return members == null || routing == null ? "not read yet"
                : ReplicaSelector.whyNot(m, leader, members.lag(m), routing.maxReplicaLag());
    }

    /** A new cluster state or member list; true when the targets changed. */
    synchronized boolean apply(ReadRouting routing, ClusterState cluster, ShardMembers members) {
        this.routing = routing;
        this.cluster = cluster;
        this.members = members;
        // refused until the member's key says something new about it
        refused.entrySet().removeIf(e -> !sameRole(members.member(e.getKey()), e.getValue()));
        return publish();
    }

    /** A server of {@code member} is not a standby: no new transaction goes there; true when the targets changed. */
    synchronized boolean refuse(String member) {
        PatroniMember m = members == null ? null : members.member(member);
        if (m == null || refused.putIfAbsent(member, m) != null) {
            return false;
        }
        return publish();
    }

    private boolean publish() {
        List<PatroniMember> usable = new ArrayList<>();
        for (PatroniMember m : members.members()) {
            if (!refused.containsKey(m.name())) {
                usable.add(m);
            }
        }
        ShardMembers shown = new ShardMembers(members.scope(), members.leaderLsn(), usable, members.unreadable());
        ReplicaSelector.ReadRoute r = ReplicaSelector.route(routing, cluster, shown);
        List<Target> targets = new ArrayList<>();
        for (PatroniMember m : r.standbys()) {
            targets.add(new Target(m.name(), InetSocketAddress.createUnresolved(m.endpoint().host(),
                    m.endpoint().port())));
        }
        Route next = new Route(List.copyOf(targets), r.leader(), r.hold() ? holdReason() : null);
        Route before = route;
        route = next;
        return !next.sameTargets(before);
    }

    private String holdReason() {
        StringBuilder sb = new StringBuilder("no eligible standby in Patroni scope ").append(members.scope());
        String sep = ": ";
        for (PatroniMember m : members.members()) {
            sb.append(sep).append(m.name()).append(' ').append(whyNot(m));
            sep = ", ";
        }
        return sep.equals(": ") ? sb.append(" (no member known)").toString() : sb.toString();
    }

    private static boolean sameRole(PatroniMember now, PatroniMember then) {
        return now != null && Objects.equals(now.role(), then.role()) && Objects.equals(now.state(), then.state())
                && now.timeline() == then.timeline() && now.endpoint().equals(then.endpoint())
                && Objects.equals(now.replicationState(), then.replicationState());
    }
}
