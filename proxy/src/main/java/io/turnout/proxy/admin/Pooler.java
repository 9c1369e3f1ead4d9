package io.turnout.proxy.admin;

import io.turnout.config.ConfigException;
import io.turnout.config.TurnoutConfig;
import io.turnout.proxy.pool.Pools;

/**
 * What the admin console may read and command of the running Turnout. The composition root implements
 * it, so nothing in admin/ imports the root.
 */
public interface Pooler {
    TurnoutConfig config();

    Pools pools();

    SnapshotCollector snapshots();

    StatsHistory statsHistory();

    /** The port clients connect to. */
    int port();

    long startedEpochMillis();

    String version();

    /** Where Patroni leaders come from, as SHOW TOPOLOGY's source column prints it. */
    String topologySource();

    boolean suspended();

    /** SUSPEND (true) stops accepting and reading client sockets, admin consoles excepted; RESUME (false) undoes it. */
    void suspend(boolean suspend);

    /** RELOAD: re-reads the file; an invalid one throws and the running configuration stays. */
    void reload() throws ConfigException;

    /** SET key = value, validated like the same line in the file. */
    void set(String key, String value) throws ConfigException;

    /** SHUTDOWN with mode "", WAIT_FOR_SERVERS or WAIT_FOR_CLIENTS. */
    void shutdown(String mode);
}
