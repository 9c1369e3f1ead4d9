package io.turnout.config;

/**
 * One client-visible database and the backend it maps to, with pool defaults already resolved.
 * {@code user}/{@code password} null means servers log in as the client's own user (secret from the
 * auth file or auth_query).
 */
public record DatabaseConfig(
        String name,
        String host,
        int port,
        String dbname,
        String user,
        String password,
        int poolSize,
        int minPoolSize,
        int reservePoolSize,
        PoolMode poolMode,
        int maxDbConnections,
        String authUser) {

    @Override
    public String toString() {
        // never print the password
        return "DatabaseConfig[" + name + " -> " + host + ":" + port + "/" + dbname
                + (user != null ? " user=" + user : "") + " pool_size=" + poolSize + " pool_mode=" + poolMode.key() + "]";
    }
}
