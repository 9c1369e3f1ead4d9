package io.turnout.config.topology;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Predicate;

/** A listener (for config and proxy tests) that keeps every snapshot with its arrival time and thread, and lets a test wait for one. */
public final class TopologyRecorder implements Consumer<Topology> {
    public record Seen(Topology topology, long nanos, String thread) {
    }

    private final List<Seen> seen = new ArrayList<>();

    @Override
    public synchronized void accept(Topology t) {
        seen.add(new Seen(t, System.nanoTime(), Thread.currentThread().getName()));
        notifyAll();
    }

    public synchronized List<Seen> all() {
        return List.copyOf(seen);
    }

    public synchronized int count() {
        return seen.size();
    }

    /** The first snapshot at or after position {@code from} whose state of {@code scope} matches. */
    public synchronized Seen await(int from, String scope, Predicate<ClusterState> p, Duration timeout) throws InterruptedException {
        return awaitTopology(from, t -> t.cluster(scope) != null && p.test(t.cluster(scope)), timeout,
                "scope " + scope);
    }

    public synchronized Seen awaitTopology(int from, Predicate<Topology> p, Duration timeout, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int i = from;
        while (true) {
            for (; i < seen.size(); i++) {
                if (p.test(seen.get(i).topology())) {
                    return seen.get(i);
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("no matching topology for " + what + " within " + timeout + "; last: "
                        + (seen.isEmpty() ? "none" : seen.get(seen.size() - 1).topology()));
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }
}
