package io.turnout.proxy.pool;

import io.turnout.config.DatabaseConfig;
import io.turnout.config.PoolSettings;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One client-visible database across all its pools (one per server login user): the configuration they
 * share, swapped whole on RELOAD, and the admin switches PAUSE, DISABLE and KILL act on.
 */
public final class Database {
    private final String name;
    private volatile DatabaseConfig config;
    private volatile PoolSettings settings;
    /** Servers of every pool of this database: max_db_connections and SHOW DATABASES. */
    private final AtomicInteger servers = new AtomicInteger();
    private final AtomicInteger clients = new AtomicInteger();
    private volatile boolean paused;
    private volatile boolean disabled;
    /** Gone from the configuration: no new client, current ones finish. */
    private volatile boolean removed;

    Database(DatabaseConfig config, PoolSettings settings) {
        this.name = config.name();
        this.config = config;
        this.settings = settings;
    }

    public String name() {
        return name;
    }

    public DatabaseConfig config() {
        return config;
    }

    public PoolSettings settings() {
        return settings;
    }

    /** True when servers opened under {@code old} reach a different backend or log in differently. */
    static boolean sameBackend(DatabaseConfig a, DatabaseConfig b) {
        return a.host().equals(b.host()) && a.port() == b.port() && a.dbname().equals(b.dbname())
                && java.util.Objects.equals(a.user(), b.user()) && java.util.Objects.equals(a.password(), b.password());
    }

    void update(DatabaseConfig config, PoolSettings settings) {
        this.config = config;
        this.settings = settings;
        this.removed = false;
    }

    AtomicInteger serverCounter() {
        return servers;
    }

    public int serverCount() {
        return servers.get();
    }

    public AtomicInteger clientCounter() {
        return clients;
    }

    public boolean paused() {
        return paused;
    }

    public void setPaused(boolean paused) {
        this.paused = paused;
    }

    public boolean disabled() {
        return disabled;
    }

    public void setDisabled(boolean disabled) {
        this.disabled = disabled;
    }

    public boolean removed() {
        return removed;
    }

    void markRemoved() {
        this.removed = true;
    }
}
