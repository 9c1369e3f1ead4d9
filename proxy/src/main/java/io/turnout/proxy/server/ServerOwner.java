package io.turnout.proxy.server;

/**
 * What a server connection tells the one who opened it (its pool shard), on the connection's loop. The
 * pool hands it in at connect; the server room knows nothing else of pools.
 */
public interface ServerOwner {
    /** Logged in and idle: the connection is open and may be handed out. */
    void loginSucceeded(ServerConnection server);

    /** The login failed (refused, timed out, or the connection died); the channel is closing. */
    void loginFailed(ServerConnection server, String sqlState, String message);

    /** A connection that had logged in closed. */
    void closed(ServerConnection server);

    /** The cancels that kept {@code server} from being reused are done (see {@link ServerConnection#parkWhileCancelling}). */
    void cancelsEnded(ServerConnection server);
}
