package io.turnout.proxy.server;

/** Who gets told about this connection's life: its pool shard. */
public interface ServerOwner {
    void loginSucceeded(ServerConnection server);

    void loginFailed(ServerConnection server, String sqlState, String message);

    void closed(ServerConnection server);
}
