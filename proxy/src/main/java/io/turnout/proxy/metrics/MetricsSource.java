package io.turnout.proxy.metrics;

import io.turnout.config.TurnoutConfig;
import io.turnout.proxy.admin.Snapshot;
import io.turnout.proxy.pool.Pools;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * What /metrics, /health and /ready read of the running Turnout. The composition root implements it, so
 * nothing in metrics/ imports the root; every live number comes as an immutable {@link Snapshot}.
 */
public interface MetricsSource {
    /** A fresh snapshot, each event loop's part copied on that loop. */
    CompletableFuture<Snapshot> snapshot();

    Pools pools();

    TurnoutConfig config();

    /** Client connections counted against max_client_conn. */
    int clientConnections();

    /** Why this instance should get no new clients (empty when it should), for /ready. */
    List<String> readiness();

    /** True once this Turnout has stopped, for /health. */
    boolean stopped();

    String version();
}
