package io.turnout.proxy.pool;

import io.netty.channel.EventLoop;
import io.turnout.proxy.server.ServerConnection;
import io.turnout.proxy.server.ServerOwner;
import io.turnout.proxy.server.ServerRole;

/**
 * One login to a static host that takes no transaction (not heard from yet, unreachable, or of a role
 * target_session_attrs does not want), made as the database's pools log in, to learn what the host is now:
 * asked like every server of a static member ({@link ServerRole}), then closed. No client waits on it, so a
 * host that is down or black-holed costs clients nothing; what it learns moves the route
 * ({@link StaticHosts}), and the pools follow ({@link Pools#routeChanged}).
 */
final class HostProbe implements ServerOwner {
    private final Pools pools;
    private final Database database;
    private final StaticHosts hosts;
    private final ReadRoutes.Target target;

    private HostProbe(Pools pools, Database database, StaticHosts hosts, ReadRoutes.Target target) {
        this.pools = pools;
        this.database = database;
        this.hosts = hosts;
        this.target = target;
    }

    /**
     * Probes the hosts of {@code d} that are due (see {@link StaticHosts#dueForProbe}), logging in as {@code pool}
     * does, on {@code loop}. Nothing before a pool exists: a database no client asked for needs no route.
     */
    static void probeDue(Pools pools, Database d, Pool pool, EventLoop loop, long now) {
        StaticHosts hosts = d.staticHosts();
        if (hosts == null || pool == null) {
            return;
        }
        for (ReadRoutes.Target t : hosts.dueForProbe(now, pool.settings().serverCheckDelay().toNanos())) {
            HostProbe probe = new HostProbe(pools, d, hosts, t);
            try {
                ServerConnection s = ServerConnection.connect(pools.bootstrap(loop), probe, t.address(),
                        pool.credentials(), d.config().dbname(), 0, pools.config().maxPacketSize(),
                        Math.max(1, pool.settings().serverConnectTimeout().toMillis()), pool.serverTls());
                pools.track(s);
            } catch (RuntimeException e) {
                probe.ended(null, e.toString()); // e.g. no credentials for the user: the host stays out meanwhile
            }
        }
    }

    @Override
    public void loginSucceeded(ServerConnection server) {
        ServerRole.check(server, (srv, standby, evidence) -> {
            ended(standby == null ? null : new boolean[] {standby, StaticHosts.readOnly(srv)}, evidence);
            srv.close();
        });
    }

    @Override
    public void loginFailed(ServerConnection server, String sqlState, String message) {
        ended(null, message);
    }

    @Override
    public void closed(ServerConnection server) {
        // closed once it answered, or it died asking (the answer then said so)
    }

    @Override
    public void cancelsEnded(ServerConnection server) {
        // never linked to a client
    }

    /** {@code role}: {standby, read only}, or null when the host could not be asked ({@code evidence} says why). */
    private void ended(boolean[] role, String evidence) {
        hosts.probeEnded(target);
        if (database.staticHosts() != hosts) {
            return; // a RELOAD replaced the host list meanwhile
        }
        if (role == null ? hosts.unreachable(target, evidence) : hosts.learnt(target, role[0], role[1], evidence)) {
            pools.routeChanged(database);
        }
    }
}
