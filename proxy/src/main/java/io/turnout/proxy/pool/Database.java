package io.turnout.proxy.pool;

import io.turnout.config.DatabaseConfig;
import io.turnout.config.PoolSettings;
import io.turnout.config.topology.ClusterState;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One client-visible database across all its pools (one per server login user): the configuration they
 * share, swapped whole on RELOAD, and the admin switches PAUSE, DISABLE and KILL act on.
 */
public final class Database {
    private final String name;
    private volatile DatabaseConfig config;
    private volatile PoolSettings settings;
    /** Servers of every pool of this database: max_db_connections and SHOW DATABASES. */
    private final AtomicInteger servers = new AtomicInteger();
    private final AtomicInteger clients = new AtomicInteger();
    private volatile boolean paused;
    private volatile boolean disabled;
    /** Gone from the configuration: no new client, current ones finish. */
    private volatile boolean removed;
    /**
     * Where new servers connect: the static host, or the Patroni leader the topology names (null while
     * no leader is known: new transactions are held).
     */
    private volatile InetSocketAddress address;
    /**
     * While no leader takes transactions because a switchover names a candidate: the candidate, where new
     * servers connect ahead of its promotion (they are used once it leaves recovery); null otherwise.
     */
    private volatile InetSocketAddress candidate;
    /** The cluster state last applied (Patroni databases only). */
    private volatile ClusterState cluster;
    private final AtomicLong leaderChanges = new AtomicLong();
    private final AtomicLong topologyChanges = new AtomicLong();
    private final AtomicLong watchErrors = new AtomicLong();
    private final SwitchoverDrain switchover;
    private final ReadRoutes reads = new ReadRoutes();
    /** A static database routed by its hosts' roles, else null. */
    private volatile StaticHosts hosts;

    Database(DatabaseConfig config, PoolSettings settings) {
        this.name = config.name();
        this.config = config;
        this.settings = settings;
        this.address = staticAddress(config);
        this.switchover = new SwitchoverDrain(name);
        this.hosts = StaticHosts.of(config);
    }

    /** This database's planned switchovers (Patroni failover key). */
    public SwitchoverDrain switchover() {
        return switchover;
    }

    private static InetSocketAddress staticAddress(DatabaseConfig c) {
        return c.isPatroni() ? null : InetSocketAddress.createUnresolved(c.host(), c.port());
    }

    /**
     * The server new transactions go to: the static host or the Patroni leader, null while no leader is known or
     * it drains for a switchover (new servers may connect to the candidate meanwhile: {@link #target()}).
     */
    public InetSocketAddress address() {
        return address;
    }

    /** True when target_session_attrs sends transactions to standbys (not the leader alone). */
    public boolean readsReplicas() {
        return config.isPatroni() && !config.routing().targetSessionAttrs().leaderOnly();
    }

    /** Where a database that reads replicas sends new transactions, and which members are out and why. */
    public ReadRoutes reads() {
        return reads;
    }

    /** A static comma list of hosts, or one host routed by role: what is known of each; null otherwise. */
    public StaticHosts staticHosts() {
        return hosts;
    }

    /**
     * The read route in force: a static host list's, or a Patroni shard's for a database that reads replicas;
     * null for a leader-only database (or before its members were read).
     */
    ReadRoutes.Route readRoute() {
        StaticHosts h = hosts;
        if (h != null) {
            return h.route();
        }
        return readsReplicas() ? reads.route() : null;
    }

    /** What a hold that timed out had none of, for its 08006. */
    String heldFor() {
        return hosts != null ? "had no usable host for "
                : readsReplicas() ? "had no server to read from for " : "had no usable primary for ";
    }

    /**
     * Reads standbys only (or a static host list) and none is eligible: new transactions are held, though a
     * leader is known.
     */
    boolean readsHeld() {
        ReadRoutes.Route r = readRoute();
        return r != null && r.holdReason() != null;
    }

    /**
     * Where the leader path's new servers connect: the leader (or a switchover's candidate, {@link #target()}),
     * except for a database that reads replicas whose route leaves the leader out (null: its transactions go to
     * standbys, or are held).
     */
    InetSocketAddress leaderTarget() {
        if (hosts != null) {
            return null; // every host is a member of the route: the (database, user) pool opens nothing itself
        }
        if (!readsReplicas()) {
            return target();
        }
        ReadRoutes.Route r = reads.route();
        return r != null && r.leader() ? target() : null;
    }

    /** The Patroni cluster state in force, or null for a static database (or before the first topology). */
    public ClusterState cluster() {
        return cluster;
    }

    /** The Patroni member name of the shard's leader, or null (a static database, no topology yet, no leader). */
    public String leaderMember() {
        ClusterState c = cluster;
        return c == null ? null : c.leaderName();
    }

    /** Where new servers connect: the leader, else a switchover's candidate, else null (held with no server). */
    public InetSocketAddress target() {
        InetSocketAddress a = address;
        return a != null ? a : candidate;
    }

    /** Applies a new cluster state; returns true when {@link #target()} moved (a retarget is needed). */
    boolean applyCluster(ClusterState next) {
        ClusterState before = cluster;
        cluster = next;
        topologyChanges.incrementAndGet();
        if (next.lastError() != null) {
            watchErrors.incrementAndGet();
        }
        InetSocketAddress was = address;
        InetSocketAddress wasTarget = target();
        address = next.hasLeader() ? unresolved(next.leader()) : null;
        candidate = next.switchoverTarget() != null ? unresolved(next.switchoverTarget()) : null;
        if (!java.util.Objects.equals(was, address) && before != null && before.hasLeader() && next.hasLeader()) {
            leaderChanges.incrementAndGet();
        }
        return !java.util.Objects.equals(wasTarget, target());
    }

    private static InetSocketAddress unresolved(io.turnout.config.topology.Endpoint e) {
        return InetSocketAddress.createUnresolved(e.host(), e.port());
    }

    public long leaderChanges() {
        return leaderChanges.get();
    }

    public long watchErrors() {
        return watchErrors.get();
    }

    public long topologyChanges() {
        return topologyChanges.get();
    }

    public String name() {
        return name;
    }

    public DatabaseConfig config() {
        return config;
    }

    public PoolSettings settings() {
        return settings;
    }

    /** True when servers opened under {@code old} reach a different backend or log in differently. */
    static boolean sameBackend(DatabaseConfig a, DatabaseConfig b) {
        return java.util.Objects.equals(a.host(), b.host()) && a.port() == b.port()
                && java.util.Objects.equals(a.patroniScope(), b.patroniScope()) && a.dbname().equals(b.dbname())
                && java.util.Objects.equals(a.user(), b.user()) && java.util.Objects.equals(a.password(), b.password());
    }

    /** A RELOAD's configuration; true when the static host list was replaced (its route starts over). */
    boolean update(DatabaseConfig config, PoolSettings settings) {
        this.config = config;
        this.settings = settings;
        this.removed = false;
        if (!config.isPatroni()) {
            this.address = staticAddress(config);
        }
        StaticHosts h = hosts;
        if (h == null ? !StaticHosts.routedByRole(config) : h.sameAs(config)) {
            return false;
        }
        hosts = StaticHosts.of(config);
        return true;
    }

    AtomicInteger serverCounter() {
        return servers;
    }

    public int serverCount() {
        return servers.get();
    }

    public AtomicInteger clientCounter() {
        return clients;
    }

    public boolean paused() {
        return paused;
    }

    public void setPaused(boolean paused) {
        this.paused = paused;
    }

    public boolean disabled() {
        return disabled;
    }

    public void setDisabled(boolean disabled) {
        this.disabled = disabled;
    }

    public boolean removed() {
        return removed;
    }

    void markRemoved() {
        this.removed = true;
    }
}
