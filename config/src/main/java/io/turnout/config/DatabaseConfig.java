package io.turnout.config;

/**
 * One client-visible database and the backend it maps to, with pool defaults already resolved.
 * {@code user}/{@code password} null means servers log in as the client's own user (secret from the
 * auth file or auth_query).
 *
 * <p>The backend is either static ({@code host}/{@code port}) or a Patroni cluster ({@code patroniScope}
 * non-null, {@code host} null and {@code port} 0): its leader comes from the topology source.
 *
 * <p>A name with a trailing {@code *} ("shard_*", or "*" alone) is a template: it stands for every
 * database name with that prefix, and {@code {db}} in its patroni_scope and dbname is replaced by the
 * name the client asked for ({@link #instantiate}).
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
        String authUser,
        String patroniScope) {
    /** Replaced by the concrete database name in a template's patroni_scope and dbname. */
    public static final String DB_PLACEHOLDER = "{db}";

    public boolean isTemplate() {
        return name.endsWith("*");
    }

    public boolean isPatroni() {
        return patroniScope != null;
    }

    /** True when this template covers {@code database} (a concrete config matches only its own name). */
    public boolean matches(String database) {
        if (!isTemplate()) {
            return name.equals(database);
        }
        String prefix = name.substring(0, name.length() - 1);
        return database.length() > prefix.length() && database.startsWith(prefix);
    }

    /** The concrete database {@code database} of this template ({@link #matches} must hold). */
    public DatabaseConfig instantiate(String database) {
        if (!isTemplate()) {
            return this;
        }
        if (!matches(database)) {
            throw new IllegalArgumentException(database + " does not match " + name);
        }
        return new DatabaseConfig(database, host, port, dbname.replace(DB_PLACEHOLDER, database), user, password,
                poolSize, minPoolSize, reservePoolSize, poolMode, maxDbConnections, authUser,
                patroniScope == null ? null : patroniScope.replace(DB_PLACEHOLDER, database));
    }

    /**
     * The database name a discovered Patroni scope stands for under this template, or null when the
     * scope does not fit (e.g. template "shard_*" with scope "{db}" maps scope shard_c to database shard_c).
     */
    public String databaseForScope(String scope) {
        if (!isTemplate() || patroniScope == null) {
            return null;
        }
        int at = patroniScope.indexOf(DB_PLACEHOLDER);
        if (at < 0) {
            return null;
        }
        String before = patroniScope.substring(0, at);
        String after = patroniScope.substring(at + DB_PLACEHOLDER.length());
        if (scope.length() <= before.length() + after.length() || !scope.startsWith(before) || !scope.endsWith(after)) {
            return null;
        }
        String db = scope.substring(before.length(), scope.length() - after.length());
        return matches(db) && instantiate(db).patroniScope().equals(scope) ? db : null;
    }

    @Override
    public String toString() {
        // never print the password
        String backend = patroniScope != null ? "patroni:" + patroniScope : host + ":" + port;
        return "DatabaseConfig[" + name + " -> " + backend + "/" + dbname
                + (user != null ? " user=" + user : "") + " pool_size=" + poolSize + " pool_mode=" + poolMode.key() + "]";
    }
}
