package io.turnout.config.topology;

import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A source's latest {@link Topology} and its listener: each cluster state or scope list that really changed
 * becomes the next snapshot and is handed to the listener, in version order, on the source's loop thread.
 */
final class TopologyPublisher {
    private static final Logger LOG = LoggerFactory.getLogger(TopologyPublisher.class);

    private final String dcs;
    private volatile Topology current = Topology.EMPTY;
    private volatile boolean closed;
    // loop thread only
    private Consumer<Topology> listener;
    private boolean started;

    TopologyPublisher(String dcs) {
        this.dcs = dcs;
    }

    Topology current() {
        return current;
    }

    /**
     * Sets the listener and hands it what was published before (scopes watched before start); false when
     * the source was started or closed already, and then nothing happens.
     */
    boolean start(Consumer<Topology> newListener) {
        if (started || closed) {
            return false;
        }
        started = true;
        listener = newListener;
        if (current.version() > 0) {
            notifyListener(current);
        }
        return true;
    }

    boolean started() {
        return started;
    }

    void publish(ClusterState state) {
        Topology next = current.with(state);
        if (next != current) {
            current = next;
            notifyListener(next);
        }
    }

    void publishMembers(ShardMembers shard) {
        Topology next = current.withMembers(shard);
        if (next != current) {
            current = next;
            notifyListener(next);
        }
    }

    void publishScopes(Set<String> scopes) {
        Topology prev = current;
        Topology next = prev.withDiscovered(scopes);
        if (next != prev) {
            Set<String> added = new TreeSet<>(scopes);
            added.removeAll(prev.discoveredScopes());
            Set<String> removed = new TreeSet<>(prev.discoveredScopes());
            removed.removeAll(scopes);
            LOG.info("{}_scopes_discovered added={} removed={} total={}", dcs, added, removed, scopes.size());
            current = next;
            notifyListener(next);
        }
    }

    /** No listener call starts after this; false when it was closed already. */
    synchronized boolean close() {
        boolean first = !closed;
        closed = true;
        return first;
    }

    boolean closed() {
        return closed;
    }

    private void notifyListener(Topology t) {
        if (listener == null || closed) {
            return;
        }
        try {
            listener.accept(t);
        } catch (RuntimeException e) {
            LOG.error("topology_listener_failed version={}", t.version(), e);
        }
    }
}
