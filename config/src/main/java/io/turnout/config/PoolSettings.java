package io.turnout.config;

import java.time.Duration;

/** Pool-wide limits and timeouts, named as in PgBouncer. A zero duration disables that timeout. */
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
        Duration serverCheckDelay) {
}
