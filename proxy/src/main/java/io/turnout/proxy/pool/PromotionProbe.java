package io.turnout.proxy.pool;

import io.netty.channel.EventLoop;
import io.turnout.proxy.server.ServerConnection;
import io.turnout.proxy.server.ServerRole;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A new Patroni leader's first server, used only once it proves to be a primary: PostgreSQL 14+ says so at
 * login ({@code in_hot_standby}), older servers are asked. Patroni writes the leader key before
 * {@code pg_ctl promote} returns, and during a planned switchover Turnout logs in to the candidate while the old
 * leader drains, seconds before its promotion: it is asked again every {@link #POLL_NANOS} on the same
 * connection, which survives the promotion, while the loop's other servers log in beside it and wait
 * ({@link PromotionSpares}). The held transactions after the promotion then wait for half a poll on average, not
 * for a backoff and new logins (a fork and an authentication each, hundreds of ms under load).
 */
final class PromotionProbe {
    private static final Logger log = LoggerFactory.getLogger(PromotionProbe.class);
    static final long POLL_NANOS = 5_000_000L;

    /** How a probe ended: the server is a primary, or it is of no use (closed, or no longer the target). */
    interface Done {
        void done(ServerConnection server, boolean primary);
    }

    private final ServerConnection server;
    private final Pool pool;
    private final EventLoop loop;
    private final Done done;
    private final long startNanos = System.nanoTime();
    private int polls;

    private PromotionProbe(ServerConnection server, Pool pool, EventLoop loop, Done done) {
        this.server = server;
        this.pool = pool;
        this.loop = loop;
        this.done = done;
    }

    /** Starts checking {@code server}, just logged in; {@code done} is called once, on {@code loop}. */
    static void start(ServerConnection server, Pool pool, EventLoop loop, Done done) {
        new PromotionProbe(server, pool, loop, done).check(ServerRole::check);
    }

    private void check(java.util.function.BiConsumer<ServerConnection, ServerRole.Answer> how) {
        how.accept(server, (srv, standby, evidence) -> {
            if (standby == null) {
                log.info("leader_probe_failed pool={} server={} error=\"{}\"", pool, srv.address(), evidence);
                done.done(srv, false);
            } else {
                answered(!standby, evidence);
            }
        });
    }

    private void answered(boolean primary, String evidence) {
        if (primary) {
            if (polls > 0) {
                log.info("leader_promoted pool={} server={} polls={} waited_ms={}", pool, server.address(), polls,
                        (System.nanoTime() - startNanos) / 1_000_000);
            }
            done.done(server, true);
            return;
        }
        if (polls == 0) {
            log.info("leader_not_primary_yet pool={} server={} evidence=\"{}\"", pool, server.address(), evidence);
        }
        // holds the waiters (hold timeout included); the loops log in their other servers meanwhile
        pool.awaitingPromotion(server.generation(), "the leader " + server.address() + " is not a primary yet ("
                + evidence + ")");
        loop.schedule(this::poll, POLL_NANOS, TimeUnit.NANOSECONDS);
    }

    private void poll() {
        if (server.state() == ServerConnection.State.CLOSED || server.generation() != pool.generation()) {
            done.done(server, false); // closed under us, or the leader changed again
            return;
        }
        if (pool.targetConfirmed()) {
            done.done(server, true); // another loop's probe saw the same PostgreSQL promoted
            return;
        }
        polls++;
        check(ServerRole::ask);
    }
}
