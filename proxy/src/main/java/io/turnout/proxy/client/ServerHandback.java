package io.turnout.proxy.client;

import io.netty.channel.EventLoop;
import io.turnout.config.PoolMode;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.PoolShard;
import io.turnout.proxy.server.ParamSet;
import io.turnout.proxy.server.ServerConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives a server back to its pool once its client is gone, in a state the next client can trust: work
 * the client ended with Terminate is drained, an open transaction rolled back, session state reset when
 * configured; a server with a request in flight for nobody is cancelled and closed.
 */
final class ServerHandback {
    private static final Logger log = LoggerFactory.getLogger(ServerHandback.class);

    private final CancelRegistry cancels;
    private final Pool pool;
    private final PoolShard shard;

    ServerHandback(CancelRegistry cancels, Pool pool, PoolShard shard) {
        this.cancels = cancels;
        this.pool = pool;
        this.shard = shard;
    }

    /**
     * The client left while linked to {@code s}. {@code terminated}: it said goodbye (Terminate) rather than
     * vanishing, so PostgreSQL would have completed what it sent before.
     */
    void afterClientLeft(ServerConnection s, OutstandingRequests outstanding, boolean clientMidFrame,
                         boolean terminated, EventLoop loop) {
        boolean inFlight = outstanding.expectedReady() > 0;
        boolean unsynced = outstanding.unsynced();
        if (!inFlight && !unsynced && !clientMidFrame && !s.midFrame() && s.state() == ServerConnection.State.IDLE) {
            idle(s);
            return;
        }
        if (terminated && inFlight && !unsynced && !clientMidFrame && !s.midFrame() && !outstanding.parsesInFlight()) {
            // let the work finish, swallowing its replies, then treat the server as the client left it
            s.drain(outstanding.expectedReady(), (srv, error) -> idle(srv));
            return;
        }
        log.debug("server_closed_after_client server={} reason=in_flight", s);
        if (inFlight) {
            // PostgreSQL does not notice a closed socket while it executes: cancel the orphaned query
            // so it stops now instead of running to completion for nobody.
            s.beginCancel();
            cancels.sendCancel(s.address(), s.backendPid(), s.backendSecret(), loop, s::endCancel);
        }
        s.setCloseNeeded();
        shard.release(s);
    }

    /**
     * Runs what a client that ended with Terminate while waiting had queued ({@code pending}), in its
     * parameters, swallowing the replies as PostgreSQL would have completed the work; then gives the server back.
     */
    void runOrphaned(ServerConnection s, ParamSet params, QueuedFrames pending, NamedStatements statements,
                     OutstandingRequests outstanding) {
        String setup = s.setupFor(params);
        if (setup != null) {
            s.runInternal(setup, (srv, error) -> {
                if (error != null) {
                    srv.forgetSetup();
                    pending.release();
                    shard.release(srv);
                } else {
                    runOrphaned(srv, params, pending, statements, outstanding);
                }
            });
            return;
        }
        pending.writeTo(s, statements, outstanding);
        s.flush();
        s.drain(outstanding.expectedReady(), (srv, error) -> idle(srv));
    }

    /** A server with nothing in flight: roll back an open transaction, reset if configured, release. */
    void idle(ServerConnection s) {
        if (s.state() == ServerConnection.State.CLOSED) {
            return;
        }
        if (s.txStatus() != 'I') {
            s.runInternal("ROLLBACK", (srv, error) -> {
                if (error != null || srv.txStatus() != 'I') {
                    srv.setCloseNeeded();
                }
                resetAndRelease(srv);
            });
            return;
        }
        resetAndRelease(s);
    }

    private void resetAndRelease(ServerConnection s) {
        String reset = pool.settings().serverResetQuery();
        if (reset != null && !s.closeNeeded()
                && (pool.mode() == PoolMode.SESSION || pool.settings().serverResetQueryAlways())) {
            s.runInternal(reset, (srv, error) -> {
                if (error != null) {
                    srv.setCloseNeeded();
                } else {
                    srv.forgetParamsAfterReset(reset);
                    if (unlistens(reset)) {
                        srv.unlistened();
                    }
                }
                release(srv);
            });
        } else {
            release(s);
        }
    }

    /**
     * Gives back a server its client is done with. A LISTEN it ran is undone first (whatever the reset
     * query): its notifications would otherwise reach the next client, and the channel stay registered.
     */
    void release(ServerConnection s) {
        if (!s.listened() || s.closeNeeded() || s.state() == ServerConnection.State.CLOSED) {
            shard.release(s);
            return;
        }
        s.runInternal("UNLISTEN *", (srv, error) -> {
            if (error != null) {
                srv.setCloseNeeded();
            } else {
                srv.unlistened();
            }
            shard.release(srv);
        });
    }

    private static boolean unlistens(String reset) {
        String q = reset.toUpperCase(java.util.Locale.ROOT);
        return q.contains("DISCARD ALL") || q.contains("UNLISTEN *");
    }
}
