package io.turnout.proxy.client;

import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Client logins that failed, by reason, for {@code turnout_client_login_failures_total{reason}}: a password
 * guessing storm or a slowloris shows on a dashboard, not only in the logs.
 */
public final class LoginFailures {
    /** Wrong password, unknown user or a SCRAM proof that does not verify (28P01). */
    public static final String PASSWORD = "password";
    /** auth_type cert: no client certificate, or its CN is not the user (28000). */
    public static final String CERTIFICATE = "certificate";
    /** A user outside admin_users/stats_users asking for the admin console (28000). */
    public static final String ADMIN_REFUSED = "admin_refused";
    /** client_login_timeout passed before the login completed (08P01). */
    public static final String TIMEOUT = "timeout";

    private static final Map<String, LongAdder> COUNTS = Map.of(PASSWORD, new LongAdder(),
            CERTIFICATE, new LongAdder(), ADMIN_REFUSED, new LongAdder(), TIMEOUT, new LongAdder());

    private LoginFailures() {
    }

    static void count(String reason) {
        COUNTS.get(reason).increment();
    }

    /** The counter of {@code reason} (one of the constants above), process-wide as the TLS handshake counters. */
    public static LongAdder of(String reason) {
        return COUNTS.get(reason);
    }

    public static java.util.Set<String> reasons() {
        return COUNTS.keySet();
    }
}
