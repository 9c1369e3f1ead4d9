package io.turnout.proxy.admin;

import io.turnout.proxy.pool.ConnectionInfo;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.StatsTotals;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every connection and every pool's counters at one moment, gathered from each event loop by a task on
 * that loop (so nothing the loops own is read from another thread). The admin console and /metrics
 * render from it; it is never modified after {@link SnapshotCollector} builds it.
 */
public record Snapshot(List<ConnectionInfo> clients, List<ConnectionInfo> servers, Map<Pool, StatsTotals> stats,
                       long takenNanos) {

    /** Per database (client-visible name), the sum of its pools' counters. */
    public Map<String, StatsTotals> statsByDatabase() {
        Map<String, StatsTotals> out = new LinkedHashMap<>();
        stats.forEach((pool, t) -> out.computeIfAbsent(pool.database(), d -> new StatsTotals()).add(t));
        return out;
    }

    /** Counts of one pool as SHOW POOLS prints them. */
    public record PoolCounts(int clActive, int clWaiting, int svActive, int svIdle, int svUsed, int svTested,
                             int svLogin, long maxWaitNanos) {
    }

    public PoolCounts counts(Pool pool) {
        int clActive = 0;
        int clWaiting = 0;
        long maxWait = 0;
        for (ConnectionInfo c : clients) {
            if (c.pool() == pool) {
                if (c.state().equals("waiting")) {
                    clWaiting++;
                    maxWait = Math.max(maxWait, c.waitNanos());
                } else if (c.state().equals("active") || c.state().equals("idle")) {
                    clActive++;
                }
            }
        }
        int[] sv = new int[5];
        for (ConnectionInfo s : servers) {
            if (s.pool() == pool) {
                switch (s.state()) {
                    case "active" -> sv[0]++;
                    case "idle" -> sv[1]++;
                    case "used" -> sv[2]++;
                    case "tested" -> sv[3]++;
                    default -> sv[4]++;
                }
            }
        }
        return new PoolCounts(clActive, clWaiting, sv[0], sv[1], sv[2], sv[3], sv[4], maxWait);
    }

    static Snapshot merge(List<Snapshot> parts) {
        List<ConnectionInfo> clients = new ArrayList<>();
        List<ConnectionInfo> servers = new ArrayList<>();
        Map<Pool, StatsTotals> stats = new LinkedHashMap<>();
        for (Snapshot p : parts) {
            clients.addAll(p.clients);
            servers.addAll(p.servers);
            p.stats.forEach((pool, t) -> stats.computeIfAbsent(pool, k -> new StatsTotals()).add(t));
        }
        clients.sort(java.util.Comparator.comparingLong(ConnectionInfo::id));
        servers.sort(java.util.Comparator.comparingLong(ConnectionInfo::id));
        return new Snapshot(clients, servers, stats, System.nanoTime());
    }
}
