package io.turnout.proxy.client;

import io.turnout.config.TurnoutConfig;
import io.turnout.protocol.auth.ScramSecret;
import io.turnout.proxy.pool.Pools;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * What every client connection of one Turnout shares, handed in by the composition root: the running
 * configuration, the pools, the cancel keys, the admin console, and the client counts behind
 * max_client_conn, max_db_client_connections and max_user_client_connections.
 */
public final class Clients {
    private final Supplier<TurnoutConfig> config;
    private final Pools pools;
    private final CancelRegistry cancels;
    private final Predicate<String> patroniScopeExists;
    private final ConsoleSession.Opener consoles;
    private final AtomicInteger count = new AtomicInteger();
    private final ClientCounts counts = new ClientCounts();
    /** SCRAM verifiers derived from plain auth_file passwords: PBKDF2 once per user, not per login. */
    private final ConcurrentHashMap<String, ScramSecret> scramSecrets = new ConcurrentHashMap<>();

    /**
     * {@code config} is read at each use, so a RELOAD reaches connected clients; {@code patroniScopeExists}
     * tells whether a wildcard database name has a Patroni cluster behind it.
     */
    public Clients(Supplier<TurnoutConfig> config, Pools pools, CancelRegistry cancels,
                   Predicate<String> patroniScopeExists, ConsoleSession.Opener consoles) {
        this.config = config;
        this.pools = pools;
        this.cancels = cancels;
        this.patroniScopeExists = patroniScopeExists;
        this.consoles = consoles;
    }

    TurnoutConfig config() {
        return config.get();
    }

    Pools pools() {
        return pools;
    }

    CancelRegistry cancels() {
        return cancels;
    }

    boolean patroniScopeExists(String scope) {
        return patroniScopeExists.test(scope);
    }

    ConsoleSession.Opener consoles() {
        return consoles;
    }

    ClientCounts counts() {
        return counts;
    }

    /** Client connections counted against max_client_conn (from their startup packet to their close). */
    public AtomicInteger count() {
        return count;
    }

    /** Counts one more client against max_client_conn; false (and not counted) when the limit is reached. */
    boolean admit(int maxClientConn) {
        if (count.incrementAndGet() > maxClientConn) {
            count.decrementAndGet();
            return false;
        }
        return true;
    }

    ScramSecret scramSecretFor(String user, String password) {
        // keyed by the password too, so a changed auth_file entry gets a new verifier
        return scramSecrets.computeIfAbsent(user + '\u0000' + password, k -> ScramSecret.fromPassword(password));
    }
}
