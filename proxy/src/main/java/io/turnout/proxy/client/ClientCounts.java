package io.turnout.proxy.client;

import io.turnout.config.PoolSettings.ClientLimits;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Logged-in clients per database and per user, for max_db_client_connections and max_user_client_connections.
 * Counted once at login and released once at close, lock-free; the admin console's clients are not counted.
 * A user's counter stays once made: user names come from successful logins, so the map is bounded by them.
 */
public final class ClientCounts {
    private final ConcurrentHashMap<String, AtomicInteger> users = new ConcurrentHashMap<>();

    /** Counts a client in; PgBouncer's refusal text when a limit is reached (then nothing stays counted), else null. */
    String admit(ClientLimits limits, AtomicInteger database, String user) {
        int maxDb = limits.maxDbClientConnections();
        if (database.incrementAndGet() > maxDb && maxDb > 0) {
            database.decrementAndGet();
            return "client connections exceeded (max_db_client_connections)";
        }
        int maxUser = limits.maxUserClientConnections();
        AtomicInteger count = users.computeIfAbsent(user, u -> new AtomicInteger());
        if (count.incrementAndGet() > maxUser && maxUser > 0) {
            count.decrementAndGet();
            database.decrementAndGet();
            return "client connections exceeded (max_user_client_connections)";
        }
        return null;
    }

    void release(AtomicInteger database, String user) {
        database.decrementAndGet();
        AtomicInteger count = users.get(user);
        if (count != null) {
            count.decrementAndGet();
        }
    }

    /** Logged-in clients of {@code user} (SHOW USERS' current_client_connections). */
    public int user(String user) {
        AtomicInteger count = users.get(user);
        return count != null ? count.get() : 0;
    }
}
