package io.turnout.proxy.pool;

import io.turnout.config.DatabaseConfig;
import io.turnout.config.TurnoutConfig;
import io.turnout.config.topology.ClusterState;
import io.turnout.config.topology.ShardMembers;
import io.turnout.config.topology.Topology;
import io.turnout.config.topology.TopologySource;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies each Topology snapshot to the databases that follow a Patroni cluster: a new leader retargets
 * their pools in memory (a new generation; idle servers to the old leader close at once, active ones when
 * their transaction ends), a vanished leader fences the old one (its connections close at once) and holds
 * new transactions until a leader is known again. Runs on the source's thread; the pools' loops get tasks.
 */
public final class TopologyApplier implements Consumer<Topology> {
    private static final Logger log = LoggerFactory.getLogger(TopologyApplier.class);

    private final Pools pools;
    private final TopologySource source;
    private final Supplier<TurnoutConfig> config;
    private volatile Topology current = Topology.EMPTY;

    public TopologyApplier(Pools pools, TopologySource source, Supplier<TurnoutConfig> config) {
        this.pools = pools;
        this.source = source;
        this.config = config;
        pools.onNewDatabase(this::attach);
    }

    /** Watches every configured Patroni database's scope (and lists scopes when templates need it). */
    public void start() {
        if (source == null) {
            return;
        }
        source.start(this);
        refresh();
        if (config.get().databaseTemplates().values().stream().anyMatch(DatabaseConfig::isPatroni)) {
            source.discover();
        }
    }

    /** After a RELOAD: new databases exist at once, and changed scopes are watched and applied. */
    public void refresh() {
        for (DatabaseConfig c : config.get().databases().values()) {
            pools.database(c); // creates (and attaches) new ones
        }
        for (Database d : pools.databases()) {
            attach(d);
        }
    }

    private void attach(Database d) {
        if (source != null && d.config().isPatroni()) {
            if (d.readsReplicas()) {
                source.watchMembers(d.config().patroniScope()); // role, state and lag of every member
            } else {
                source.watch(d.config().patroniScope());
            }
            apply(d, current);
        }
    }

    @Override
    public synchronized void accept(Topology t) {
        current = t;
        for (Database d : pools.databases()) {
            apply(d, t);
        }
    }

    private synchronized void apply(Database d, Topology t) {
        DatabaseConfig c = d.config();
        if (!c.isPatroni()) {
            return;
        }
        applyLeader(d, t);
        if (d.readsReplicas()) {
            applyReads(d, t);
        }
    }

    /**
     * Recomputes where a database that reads replicas sends new transactions, on every snapshot (a member's lag
     * moves each loop_wait); the pools hear of it only when the targets changed.
     */
    private void applyReads(Database d, Topology t) {
        ShardMembers members = t.members(d.config().patroniScope());
        if (members == null) {
            return; // not read yet: new transactions are held meanwhile (no route: no target)
        }
        if (d.reads().apply(d.config().routing(), d.cluster(), members)) {
            ReadRoutes.Route r = d.reads().route();
            log.info("read_route_changed database={} scope={} standbys={} leader={} hold=\"{}\"", d.name(),
                    d.config().patroniScope(), r.standbys().stream().map(ReadRoutes.Target::name).toList(), r.leader(),
                    r.holdReason() != null ? r.holdReason() : "");
            pools.routeChanged(d);
        }
    }

    private void applyLeader(Database d, Topology t) {
        DatabaseConfig c = d.config();
        ClusterState next = t.cluster(c.patroniScope());
        if (next == null) {
            return;
        }
        SwitchoverDrain switchover = d.switchover();
        if (switchover.expired(next)) {
            next = next.undrained(); // switchover_hold_timeout gave this request up: the old leader serves
        }
        ClusterState before = d.cluster();
        if (before != null && before.sameAs(next)) {
            return;
        }
        boolean moved = d.applyCluster(next);
        if (next.draining() && !switchover.active()) {
            switchover.begin(next, expiry(d, next));
        } else if (next.hasLeader()) {
            switchover.leaderServes(next);
        }
        if (!moved && before != null && !before.leaderDiffers(next)) {
            return; // staleness or error text only: keep serving as before
        }
        // no leader (the key vanished, or names a member we cannot resolve): fence the old one now;
        // a leader that moved directly, or one drained for a switchover: its transactions finish, then its
        // servers close
        boolean fence = !next.hasLeader() && !next.draining();
        log.info("topology_applied database={} scope={} from=\"{}\" to=\"{}\" fence={}", d.name(), c.patroniScope(),
                before, next, fence);
        if (moved || fence) {
            String lost = next.draining() ? switchedOverReason(d, next) : null;
            for (Pool p : pools.all()) {
                if (p.db() != d) {
                    continue;
                }
                if (moved) {
                    p.retarget(fence); // the leader path only: standbys' servers stay
                } else {
                    p.fenceOldServers(); // the target stays (a switchover's candidate): keep what connects to it
                }
                if (lost != null) {
                    p.onOldServersLost(lost);
                }
            }
        }
    }

    private static String switchedOverReason(Database d, ClusterState s) {
        return "database " + d.name() + ": its Patroni leader " + s.leaderName() + " was switched over"
                + (s.candidate() != null ? " to " + s.candidate() : "") + " while this transaction ran on it, and "
                + "PostgreSQL closed the connection as it stopped";
    }

    /** Ends a drain that outlasts switchover_hold_timeout (0: never), on one of the pools' loops. */
    private java.util.concurrent.ScheduledFuture<?> expiry(Database d, ClusterState draining) {
        long ms = d.settings().switchoverHoldTimeout().toMillis();
        return ms <= 0 ? null : pools.timerLoop().schedule(() -> expire(d, draining), ms,
                java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /**
     * switchover_hold_timeout: the transactions held since the drain began fail with 08006 naming the shard,
     * and the old leader, which still holds the leader key, serves the next ones.
     */
    private synchronized void expire(Database d, ClusterState draining) {
        if (d.cluster() != draining) {
            return; // the drain ended (or changed) meanwhile
        }
        d.switchover().timedOut(draining);
        String message = "switchover_hold_timeout: database " + d.name() + " (Patroni scope "
                + d.config().patroniScope() + "): the switchover of its leader " + draining.leaderName()
                + (draining.candidate() != null ? " to " + draining.candidate() : "") + " did not complete within "
                + d.settings().switchoverHoldTimeout().toSeconds() + " s";
        log.warn("switchover_hold_timeout database={} scope={} leader={} candidate={}", d.name(),
                d.config().patroniScope(), draining.leaderName(), draining.candidate());
        for (Pool p : pools.all()) {
            if (p.db() == d) {
                p.refuseWaiters(io.turnout.protocol.SqlState.CONNECTION_FAILURE, message);
            }
        }
        apply(d, current);
    }

    /** True when a Patroni cluster with this scope exists in the DCS (a wildcard database may use it). */
    public boolean scopeExists(String scope) {
        Topology t = current;
        ClusterState c = t.cluster(scope);
        return t.discoveredScopes().contains(scope) || (c != null && c.status() != ClusterState.Status.UNKNOWN);
    }

    /**
     * Configured Patroni databases without a known leader (for /ready). A shard draining for a planned
     * switchover is not one: both paired instances see the same drain, and failing /ready on both for the
     * few seconds Patroni takes would only make the load balancer fail open.
     */
    public List<String> leaderless() {
        List<String> out = new ArrayList<>();
        for (DatabaseConfig c : config.get().databases().values()) {
            if (c.isPatroni()) {
                Database d = pools.database(c.name());
                boolean draining = d != null && d.cluster() != null && d.cluster().draining();
                if (d == null || (d.address() == null && !draining)) {
                    out.add(c.name());
                }
            }
        }
        return out;
    }

    public Topology current() {
        return current;
    }

    /** Which DCS the Patroni databases' leaders come from (SHOW TOPOLOGY's source column). */
    public String sourceKind() {
        return source == null ? "" : source.kind();
    }

    public boolean enabled() {
        return source != null;
    }

    public void close() {
        if (source != null) {
            source.close();
        }
    }
}
