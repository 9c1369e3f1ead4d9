package io.turnout.proxy.pool;

import io.turnout.config.DatabaseConfig;
import io.turnout.config.LoadBalanceHosts;
import io.turnout.config.ReadRouting;
import io.turnout.config.TargetSessionAttrs;
import io.turnout.proxy.server.ServerConnection;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fixed member list of a static database that is routed by role (issue 17): PgBouncer's comma list of hosts
 * sharing one port, or one host with a target_session_attrs other than primary. No DCS says what a host is: its
 * role is learnt when a server logs in there ({@code in_hot_standby}, else {@code pg_is_in_recovery()}, and
 * {@code default_transaction_read_only}), when an idle server is re-checked after server_check_delay, and by a
 * {@link HostProbe} for a host that takes no transaction. The route is the hosts whose last answer fits
 * target_session_attrs, in the order written (the members {@link MemberShards} balances over, with the same
 * {@link ReadRoutes.Route} a Patroni shard has, the leader path never in it); a host not heard from yet,
 * unreachable or of the wrong role stays out until a probe says otherwise. Event loops and the probe timer
 * write it, so writes are synchronized; the pools read the immutable route through a volatile.
 */
public final class StaticHosts {
    private static final Logger log = LoggerFactory.getLogger(StaticHosts.class);

    /** A host out of the route for being unreachable is probed again after this, doubling up to the cap. */
    private static final long FIRST_RETRY_NANOS = 50_000_000L;
    private static final long RETRY_CAP_NANOS = 1_000_000_000L;
    /** One of the wrong role at most this often, however small server_check_delay is. */
    private static final long MIN_RECHECK_NANOS = 1_000_000_000L;

    /** What Turnout knows of one host; guarded by the enclosing instance. */
    private static final class Host {
        final ReadRoutes.Target target;
        /** Its last answer: null until it gave one. */
        Boolean standby;
        boolean readOnly;
        /** Why its last login or question failed; null once it answers again. */
        String down;
        long heardNanos;
        long retryNanos;
        boolean probing;

        Host(ReadRoutes.Target target) {
            this.target = target;
        }

        boolean answered() {
            return standby != null && down == null;
        }

        String role() {
            if (down != null) {
                return "unreachable (" + down + ")";
            }
            return standby == null ? "not heard from yet" : standby ? "standby"
                    : readOnly ? "primary (default_transaction_read_only=on)" : "primary";
        }
    }

    private final String database;
    private final ReadRouting routing;
    private final List<String> names;
    private final int port;
    private final List<Host> hosts = new ArrayList<>();
    private volatile ReadRoutes.Route route;

    private StaticHosts(DatabaseConfig c) {
        this.database = c.name();
        this.routing = c.routing();
        this.names = c.hosts();
        this.port = c.port();
        for (String h : names) {
            hosts.add(new Host(new ReadRoutes.Target(h, InetSocketAddress.createUnresolved(h, port))));
        }
        publish();
    }

    /** The member list of {@code c}, or null when it is a Patroni database or one host with primary/read-write. */
    static StaticHosts of(DatabaseConfig c) {
        return routedByRole(c) ? new StaticHosts(c) : null;
    }

    static boolean routedByRole(DatabaseConfig c) {
        return !c.isPatroni() && !c.isTemplate()
                && (c.hosts().size() > 1 || !c.routing().targetSessionAttrs().leaderOnly());
    }

    /** True when {@code c} names the same hosts, port and routing (a RELOAD that keeps what was learnt). */
    boolean sameAs(DatabaseConfig c) {
        return c.hosts().equals(names) && c.port() == port && c.routing().equals(routing);
    }

    /** The route in force: the hosts that fit, or none (new transactions held) with why. */
    public ReadRoutes.Route route() {
        return route;
    }

    /** Every host, in the order written. */
    public List<ReadRoutes.Target> targets() {
        List<ReadRoutes.Target> out = new ArrayList<>();
        hosts.forEach(h -> out.add(h.target));
        return out;
    }

    /** What the host last said of itself, for SHOW TOPOLOGY. */
    public synchronized String role(ReadRoutes.Target t) {
        Host h = host(t);
        return h == null ? "" : h.role();
    }

    /** Why {@code t} takes no new transaction, or null when it does. */
    public synchronized String whyNot(ReadRoutes.Target t) {
        Host h = host(t);
        if (h == null || route.standbys().contains(t)) {
            return null;
        }
        return h.answered() ? "target_session_attrs " + routing.targetSessionAttrs().key() : h.role();
    }

    /** A server (or probe) of {@code t} said what it is ({@code evidence}); true when the route changed. */
    synchronized boolean learnt(ReadRoutes.Target t, boolean standby, boolean readOnly, String evidence) {
        Host h = host(t);
        if (h == null) {
            return false;
        }
        String was = h.role();
        h.standby = standby;
        h.readOnly = readOnly;
        h.down = null;
        h.retryNanos = 0;
        h.heardNanos = System.nanoTime();
        return changed(h, was, evidence);
    }

    /** A login to {@code t} failed, or its server could not say what it is; true when the route changed. */
    synchronized boolean unreachable(ReadRoutes.Target t, String why) {
        Host h = host(t);
        if (h == null) {
            return false;
        }
        String was = h.role();
        h.down = why;
        h.retryNanos = Math.min(RETRY_CAP_NANOS, Math.max(FIRST_RETRY_NANOS, h.retryNanos * 2));
        h.heardNanos = System.nanoTime();
        return changed(h, was, why);
    }

    private boolean changed(Host h, String was, String evidence) {
        if (!h.role().equals(was)) {
            log.info("host_role database={} host={} role=\"{}\" was=\"{}\" evidence=\"{}\"", database,
                    h.target.name(), h.role(), was, evidence);
        }
        return publish();
    }

    /** True when new transactions may go to {@code t}. */
    boolean routes(ReadRoutes.Target t) {
        return route.standbys().contains(t);
    }

    /**
     * The hosts out of the route a probe should log in to now (marked as being probed): one not heard from yet at
     * once, an unreachable one after its backoff, one of the wrong role every {@code recheckNanos}.
     */
    synchronized List<ReadRoutes.Target> dueForProbe(long now, long recheckNanos) {
        List<ReadRoutes.Target> due = new ArrayList<>();
        for (Host h : hosts) {
            if (h.probing || routes(h.target)) {
                continue;
            }
            long wait = h.down != null ? h.retryNanos
                    : h.standby == null ? 0 : Math.max(MIN_RECHECK_NANOS, recheckNanos);
            if (h.heardNanos == 0 || now - h.heardNanos >= wait) {
                h.probing = true;
                due.add(h.target);
            }
        }
        return due;
    }

    synchronized void probeEnded(ReadRoutes.Target t) {
        Host h = host(t);
        if (h != null) {
            h.probing = false;
        }
    }

    private Host host(ReadRoutes.Target t) {
        for (Host h : hosts) {
            if (h.target.equals(t)) {
                return h;
            }
        }
        return null;
    }

    /**
     * Recomputes the route; true when its hosts changed. prefer-standby falls back to the other hosts only once
     * every host answered or failed, so the first transactions do not go to a primary while a standby is being
     * asked; likewise load_balance_hosts disable takes a host only once every host written before it was heard.
     */
    private boolean publish() {
        TargetSessionAttrs want = routing.targetSessionAttrs();
        boolean inOrder = routing.loadBalanceHosts() == LoadBalanceHosts.DISABLE;
        List<ReadRoutes.Target> in = new ArrayList<>();
        boolean allHeard = true;
        for (Host h : hosts) {
            if (h.answered() && fits(want, h.standby, h.readOnly) && (allHeard || !inOrder)) {
                in.add(h.target);
            }
            allHeard &= h.standby != null || h.down != null;
        }
        if (in.isEmpty() && want == TargetSessionAttrs.PREFER_STANDBY && allHeard) {
            for (Host h : hosts) {
                if (h.answered()) {
                    in.add(h.target);
                }
            }
        }
        ReadRoutes.Route next = new ReadRoutes.Route(List.copyOf(in), false, in.isEmpty() ? holdReason() : null);
        ReadRoutes.Route before = route;
        if (next.equals(before)) {
            return false; // the same object kept: MemberShards rebuilds its candidates only for a new one
        }
        route = next;
        return !next.sameTargets(before);
    }

    /** default_transaction_read_only=on, as PostgreSQL 14+ reports it at login (older ones: taken as off). */
    static boolean readOnly(ServerConnection server) {
        return "on".equals(server.loginParams().get("default_transaction_read_only"));
    }

    /** libpq's meanings, with a host's role as it last answered. */
    static boolean fits(TargetSessionAttrs want, boolean standby, boolean readOnly) {
        return switch (want) {
            case PRIMARY -> !standby;
            case READ_WRITE -> !standby && !readOnly;
            case STANDBY, PREFER_STANDBY -> standby;
            case READ_ONLY -> standby || readOnly;
            case ANY -> true;
        };
    }

    private String holdReason() {
        StringBuilder sb = new StringBuilder("no host of database ").append(database)
                .append(" fits target_session_attrs ").append(routing.targetSessionAttrs().key());
        String sep = ": ";
        for (Host h : hosts) {
            sb.append(sep).append(h.target.name()).append(':').append(port).append(' ').append(h.role());
            sep = ", ";
        }
        return sb.toString();
    }
}
