package io.turnout.config;

import java.time.Duration;

/**
 * Pool-wide limits and timeouts, named as in PgBouncer. A zero duration disables that timeout.
 * {@code maxPreparedStatements} bounds the named statements kept per server connection in transaction
 * and statement modes (0 turns that translation off). {@code failoverHoldTimeout} is how long a new
 * transaction waits for a Patroni cluster without a known leader before failing with 08006;
 * {@code switchoverHoldTimeout} (default: the same) how long a planned switchover may drain the leader.
 * {@code listenMode}: what LISTEN does outside session mode.
 */
public record PoolSettings(
        PoolMode poolMode,
        int defaultPoolSize,
        int minPoolSize,
        int reservePoolSize,
        Duration reservePoolTimeout,
        int maxClientConn,
        int maxDbConnections,
        int maxUserConnections,
        Duration queryWaitTimeout,
        Duration clientLoginTimeout,
        Duration idleTransactionTimeout,
        Duration serverLifetime,
        Duration serverIdleTimeout,
        Duration serverConnectTimeout,
        Duration serverLoginRetry,
        String serverResetQuery,
        boolean serverResetQueryAlways,
        String serverCheckQuery,
        Duration serverCheckDelay,
        int maxPreparedStatements,
        Duration failoverHoldTimeout,
        Duration switchoverHoldTimeout,
        ListenMode listenMode,
        ClientLimits clientLimits) {

    /**
     * PgBouncer's client-side limits: query_timeout (a request, waiting included, from its first message to
     * its ReadyForQuery), transaction_timeout (from the first request after idle to ReadyForQuery 'I'),
     * client_idle_timeout (a logged-in client without a server sending nothing), cancel_wait_timeout (how
     * long a forwarded cancel may take), and logged-in clients per database and per user. Zero is off.
     */
    public record ClientLimits(Duration queryTimeout, Duration transactionTimeout, Duration clientIdleTimeout,
                               Duration cancelWaitTimeout, int maxDbClientConnections, int maxUserClientConnections) {
    }
}
