package io.turnout.proxy.pool;

import io.turnout.proxy.server.ServerConnection;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * One shard's servers logged in to a leader that is still a hot standby (a switchover's candidate while the old
 * leader drains): one of them, the probe, polls it for the promotion
 * ({@link PromotionProbe}); the others, the spares, wait unused and serve as soon as any probe of the pool sees it
 * primary: they reach the same PostgreSQL, so each need not prove it again, and held transactions do not wait
 * for logins (a fork and an authentication each) on a just-promoted primary. Touched only on the shard's loop.
 */
final class PromotionSpares {
    private final ArrayDeque<ServerConnection> spares = new ArrayDeque<>();
    private ServerConnection probe;

    /**
     * Keeps {@code s}, just logged in, as a spare when this shard already probes the leader and {@code s} does
     * not itself say it is a primary (PostgreSQL 14+ reports in_hot_standby at login); false: probe with it.
     */
    boolean park(ServerConnection s) {
        if (probe == null || "off".equals(s.loginParams().get("in_hot_standby"))) {
            return false;
        }
        spares.addLast(s);
        return true;
    }

    /** {@code s} now polls the leader for its promotion (a second probe, proven by its login, is not kept). */
    void probing(ServerConnection s) {
        if (probe == null) {
            probe = s;
        }
    }

    boolean hasProbe() {
        return probe != null;
    }

    /**
     * A probe's poll ended. When it failed, returns a spare of generation {@code generation} to probe with next, not
     * one still being set up (stale ones go to {@code close}), or null.
     */
    ServerConnection probeEnded(ServerConnection s, boolean primary, int generation, Consumer<ServerConnection> close) {
        if (s != probe) {
            return null; // a member pool's check, or a server that logged in after the promotion
        }
        probe = null;
        ServerConnection next = null;
        for (var it = spares.iterator(); !primary && it.hasNext(); ) {
            ServerConnection c = it.next();
            if (c.generation() != generation) {
                it.remove();
                close.accept(c);
            } else if (next == null && c.state() == ServerConnection.State.IDLE) {
                it.remove();
                next = c;
            }
        }
        return next;
    }

    /**
     * The spares ready to serve leave for {@code to}, oldest first: the leader proved a primary. One still being set
     * up for a client's parameters stays until that ends.
     */
    void release(Consumer<ServerConnection> to) {
        for (var it = spares.iterator(); it.hasNext(); ) {
            ServerConnection s = it.next();
            if (s.state() != ServerConnection.State.INTERNAL) {
                it.remove();
                to.accept(s);
            }
        }
    }

    /** Spares not of generation {@code generation} leave for {@code close}: the leader moved. */
    void dropStale(int generation, Consumer<ServerConnection> close) {
        for (var it = spares.iterator(); it.hasNext(); ) {
            ServerConnection s = it.next();
            if (s.generation() != generation) {
                it.remove();
                close.accept(s);
            }
        }
    }

    /** {@code s} closed by itself: true when it was a spare. */
    boolean lost(ServerConnection s) {
        return spares.remove(s);
    }
}
