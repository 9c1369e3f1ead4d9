package io.turnout.proxy.testing;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;

/**
 * How long Patroni took to replace a killed leader ({@link PatroniCluster#killLeader()}), from just before the
 * kill: until the leader key was gone (its lease ran out, about ttl after the last refresh) and until it named
 * another member. Measured by polling etcd every 20 ms, so each is at most that much late.
 */
public record KillTiming(String killed, String newLeader, Duration leaderKeyGone, Duration newLeaderKey) {
    private static final Duration POLL = Duration.ofMillis(20);
    private static final Duration GIVE_UP = Duration.ofMinutes(2);

    /**
     * Starts a daemon thread polling {@code leaderKey} from {@code t0} (a System.nanoTime()) until it names
     * another member than {@code killed}; the future fails after two minutes without that.
     */
    static CompletableFuture<KillTiming> watch(EtcdServer etcd, String leaderKey, String killed, long t0) {
        CompletableFuture<KillTiming> timing = new CompletableFuture<>();
        Thread t = new Thread(() -> poll(etcd, leaderKey, killed, t0, timing), "leader-key-watch-" + leaderKey);
        t.setDaemon(true);
        t.start();
        return timing;
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
            OwnedDirs.sleep(POLL);
        }
        timing.completeExceptionally(new TimeoutException(leaderKey + " still names " + killed));
    }
}
