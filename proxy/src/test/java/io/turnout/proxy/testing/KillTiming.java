package io.turnout.proxy.testing;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * How long Patroni took to replace a killed leader ({@link PatroniCluster#killLeader()}), from just before the
 * kill: until the leader key was gone (its lease ran out, about ttl after the last refresh) and until it named
 * another member. Measured by polling etcd every 20 ms, so each is at most that much late.
 */
public record KillTiming(String killed, String newLeader, Duration leaderKeyGone, Duration newLeaderKey) {
    private static final Duration POLL = Duration.ofMillis(20);
    private static final Duration GIVE_UP = Duration.ofMinutes(3);

    /**
     * Starts a daemon thread polling {@code leaderKey} from {@code t0} (a System.nanoTime()) until it names
     * another member than {@code killed}; the future fails after three minutes without that.
     */
    static CompletableFuture<KillTiming> watch(EtcdServer etcd, String leaderKey, String killed, long t0) {
        CompletableFuture<KillTiming> timing = new CompletableFuture<>();
        Thread t = new Thread(() -> poll(etcd, leaderKey, killed, t0, timing), "leader-key-watch-" + leaderKey);
        t.setDaemon(true);
        t.start();
        return timing;
    }

    /** The timing once the watcher saw a new leader key; fails with {@code describe}'s text after {@code timeout}. */
    static KillTiming await(CompletableFuture<KillTiming> watch, Duration timeout, Supplier<String> describe) {
        try {
            return watch.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new AssertionError(describe.get() + "\n(waited " + timeout.toSeconds() + " s)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static void poll(EtcdServer etcd, String leaderKey, String killed, long t0,
            CompletableFuture<KillTiming> timing) {
        Duration gone = null;
        long deadline = t0 + GIVE_UP.toNanos();
        while (System.nanoTime() < deadline) {
            String v;
            try {
                v = etcd.get(leaderKey);
            } catch (RuntimeException e) {
                v = killed; // etcd unreachable: no news
            }
            Duration since = Duration.ofNanos(System.nanoTime() - t0);
            if (v == null && gone == null) {
                gone = since;
            } else if (v != null && !v.equals(killed)) {
                // a key replaced within one poll was never seen missing: call it gone when it was replaced
                timing.complete(new KillTiming(killed, v, gone == null ? since : gone, since));
                return;
            }
            Await.sleep(POLL);
        }
        timing.completeExceptionally(new TimeoutException(leaderKey + " still names " + killed));
    }
}
