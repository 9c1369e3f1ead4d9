package io.turnout.proxy.pool;

import io.netty.channel.Channel;
import io.turnout.proxy.server.ConnectionIds;
import io.turnout.proxy.server.ServerConnection;
import java.net.InetSocketAddress;

/**
 * One client or server connection as SHOW CLIENTS / SHOW SERVERS print it, copied on the connection's
 * own event loop. {@code state} uses PgBouncer's words: clients active, waiting, login; servers active,
 * idle, used, tested, new (logging in).
 */
// tls: "TLSv1.3/cipher[/CN=name]" as PgBouncer's tls column, "" without TLS
public record ConnectionInfo(
        boolean server,
        long id,
        String user,
        String database,
        Pool pool,
        String state,
        String addr,
        int port,
        String localAddr,
        int localPort,
        long connectEpochMillis,
        long requestEpochMillis,
        long waitNanos,
        boolean closeNeeded,
        long linkId,
        int remotePid,
        String applicationName,
        int preparedStatements,
        int generation,
        boolean admin,
        String tls,
        String member) {

    /** A connection of no standby's member pool (clients; servers of the leader path or a static host). */
    public ConnectionInfo(boolean server, long id, String user, String database, Pool pool, String state, String addr,
            int port, String localAddr, int localPort, long connectEpochMillis, long requestEpochMillis, long waitNanos,
            boolean closeNeeded, long linkId, int remotePid, String applicationName, int preparedStatements,
            int generation, boolean admin, String tls) {
        this(server, id, user, database, pool, state, addr, port, localAddr, localPort, connectEpochMillis,
                requestEpochMillis, waitNanos, closeNeeded, linkId, remotePid, applicationName, preparedStatements,
                generation, admin, tls, "");
    }

    private static final long EPOCH_BASE_MILLIS = System.currentTimeMillis();
    private static final long NANO_BASE = System.nanoTime();

    /** Wall-clock milliseconds for a {@link System#nanoTime()} reading (no clock call per event). */
    public static long epochMillis(long nanos) {
        return EPOCH_BASE_MILLIS + (nanos - NANO_BASE) / 1_000_000;
    }

    public static String host(Object address) {
        return address instanceof InetSocketAddress a ? a.getHostString() : "";
    }

    public static int port(Object address) {
        return address instanceof InetSocketAddress a ? a.getPort() : 0;
    }

    /** Ids shared by clients and servers, as PgBouncer's {@code id} column (KILL_CLIENT takes them). */
    public static long nextId() {
        return ConnectionIds.next();
    }

    /**
     * {@code s} as SHOW SERVERS prints it, or null once closed or when no pool owns it; call on {@code s}'s
     * loop.
     */
    public static ConnectionInfo ofServer(ServerConnection s) {
        String state = s.showState();
        if (state == null || !(s.owner() instanceof ShardServers owner)) {
            return null;
        }
        Pool pool = owner.pool().top(); // a standby's servers count in their (database, user) pool
        String member = owner.pool().member() != null ? owner.pool().member().name() : leaderMember(pool);
        Channel ch = s.channel();
        return new ConnectionInfo(true, s.id(), s.user(), pool.database(), pool, state,
                host(ch.remoteAddress()), port(ch.remoteAddress()), host(ch.localAddress()), port(ch.localAddress()),
                epochMillis(s.createdNanos()), epochMillis(s.linkedNanos()), 0, s.closeNeeded(), s.linkedClientId(),
                s.backendPid(), s.loginParams().getOrDefault("application_name", ""), s.prepared().size(),
                s.generation(), false, io.turnout.proxy.tls.TlsHandshakes.describe(ch), member);
    }

    /** A leader-path server of a database that reads replicas is on the shard's leader, a member of its route. */
    private static String leaderMember(Pool pool) {
        if (!pool.db().readsReplicas()) {
            return "";
        }
        String leader = pool.db().leaderMember();
        return leader == null ? "" : leader;
    }
}
