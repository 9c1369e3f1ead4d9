package io.turnout.proxy.client;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.turnout.config.PoolSettings.ClientLimits;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * PgBouncer's query_timeout, transaction_timeout and client_idle_timeout for one client. query_timeout
 * counts from a request's first message to its ReadyForQuery, waiting for a server included; transaction_timeout
 * from the first request after idle to ReadyForQuery 'I' (a lone statement is a transaction too);
 * client_idle_timeout from the moment the client last held or waited for no server (a long query that just
 * ended does not count as idleness). Expiry hands PgBouncer's
 * reason text to {@code expired}.
 *
 * <p>Cheap on the hot path: at most one task per client, never re-armed per query. An event (a request
 * started, the client went idle) only moves the task earlier; when it fires it re-reads the clock and
 * either expires the client or schedules itself for the nearest deadline left.
 */
final class ClientDeadlines {
    private static final long NONE = Long.MAX_VALUE;

    private final EventLoop loop;
    private final RequestClock clock;
    private final Supplier<ClientLimits> limits;
    private final BooleanSupplier idleWithoutServer;
    private final BooleanSupplier waitingForServer;
    private final Consumer<String> expired;
    private ScheduledFuture<?> task;
    private boolean closed;
    private long idleSinceNanos;

    ClientDeadlines(EventLoop loop, RequestClock clock, Supplier<ClientLimits> limits, BooleanSupplier idleWithoutServer,
                    BooleanSupplier waitingForServer, Consumer<String> expired) {
        this.loop = loop;
        this.clock = clock;
        this.limits = limits;
        this.idleWithoutServer = idleWithoutServer;
        this.waitingForServer = waitingForServer;
        this.expired = expired;
    }

    /** The client logged in or gave its server back: client_idle_timeout counts from now. */
    void becameIdle() {
        idleSinceNanos = System.nanoTime();
        changed();
    }

    /** Something a deadline depends on changed (a request began): watch it. */
    void changed() {
        if (closed) {
            return;
        }
        long left = nanosLeft(limits.get(), System.nanoTime());
        if (left == NONE || task != null && task.getDelay(TimeUnit.NANOSECONDS) <= left) {
            return; // nothing to watch, or the pending task fires first and re-checks
        }
        if (task != null) {
            task.cancel(false);
        }
        schedule(left);
    }

    void close() {
        closed = true;
        if (task != null) {
            task.cancel(false);
            task = null;
        }
    }

    private void fire() {
        task = null;
        if (closed) {
            return;
        }
        ClientLimits l = limits.get();
        long now = System.nanoTime();
        long left = nanosLeft(l, now);
        if (left != NONE && left <= 0) {
            closed = true;
            expired.accept(reason(l, now));
        } else if (left != NONE) {
            schedule(left);
        }
    }

    private void schedule(long nanos) {
        task = loop.schedule(this::fire, Math.max(nanos, 0), TimeUnit.NANOSECONDS);
    }

    /** Time to the nearest deadline that applies now (negative: passed), or NONE. */
    private long nanosLeft(ClientLimits l, long now) {
        long left = NONE;
        long request = clock.requestStartNanos();
        long query = l.queryTimeout().toNanos();
        if (query > 0 && request != 0) {
            left = Math.min(left, request + query - now);
        }
        long xact = clock.xactStartNanos();
        long transaction = l.transactionTimeout().toNanos();
        if (transaction > 0 && xact != 0) {
            left = Math.min(left, xact + transaction - now);
        }
        long idle = l.clientIdleTimeout().toNanos();
        if (idle > 0 && idleWithoutServer.getAsBoolean()) {
            left = Math.min(left, idleSinceNanos + idle - now);
        }
        return left;
    }

    /** PgBouncer's words for the deadline that passed: its clients and log scrapers match on them. */
    private String reason(ClientLimits l, long now) {
        long request = clock.requestStartNanos();
        long query = l.queryTimeout().toNanos();
        if (query > 0 && request != 0 && now - request >= query) {
            return waitingForServer.getAsBoolean() ? "query_timeout" : "query timeout";
        }
        long xact = clock.xactStartNanos();
        long transaction = l.transactionTimeout().toNanos();
        if (transaction > 0 && xact != 0 && now - xact >= transaction) {
            return "transaction timeout";
        }
        return "client_idle_timeout";
    }
}
