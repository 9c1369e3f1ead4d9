package io.turnout.config;

/**
 * One client-visible database and the backend it maps to, with pool defaults already resolved.
 * {@code user}/{@code password} null means servers log in as the client's own user (secret from the
 * auth file or auth_query).
 *
 * <p>The backend is either static ({@code host}/{@code port}) or a Patroni cluster ({@code patroniScope}
 * non-null, {@code host} null and {@code port} 0): its leader comes from the topology source.
 *
 * <p>{@code host} may be PgBouncer's comma list of hosts sharing one port ({@link #hosts()}).
 *
 * <p>A name with one {@code *} ("shard_*", "shard_*_ro", or "*" alone) is a template: it stands for every
 * database name with that prefix and suffix, and {@code {db}} in its patroni_scope and dbname is replaced by
 * the name the client asked for without the template's suffix ({@link #instantiate}): "shard_*_ro" serves
 * shard_c_ro from scope shard_c and dbname shard_c, next to "shard_*" serving shard_c itself.
 *
 * @param routing target_session_attrs, max_replica_lag and load_balance_hosts
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
        String patroniScope,
        ReadRouting routing) {
    /** Replaced by the concrete database name in a template's patroni_scope and dbname. */
    public static final String DB_PLACEHOLDER = "{db}";

    public boolean isTemplate() {
        return name.indexOf('*') >= 0;
    }

    public boolean isPatroni() {
        return patroniScope != null;
    }

    /** The static hosts ({@code host} split at its commas); empty for a Patroni database. */
    public java.util.List<String> hosts() {
        return host == null ? java.util.List.of() : java.util.List.of(host.split(","));
    }

    /** True when this template covers {@code database} (a concrete config matches only its own name). */
    public boolean matches(String database) {
        return patternMatches(name, database);
    }

    /**
     * True when {@code database} is {@code pattern} itself, or fits a pattern with one {@code *} standing for
     * at least one character ("shard_*_ro" fits shard_c_ro, not shard__ro or shard_c).
     */
    public static boolean patternMatches(String pattern, String database) {
        int star = pattern.indexOf('*');
        if (star < 0) {
            return pattern.equals(database);
        }
        String prefix = pattern.substring(0, star);
        String suffix = pattern.substring(star + 1);
        return database.length() > prefix.length() + suffix.length() && database.startsWith(prefix)
                && database.endsWith(suffix);
    }

    /** The concrete database {@code database} of this template ({@link #matches} must hold). */
    public DatabaseConfig instantiate(String database) {
        if (!isTemplate()) {
            return this;
        }
        if (!matches(database)) {
            throw new IllegalArgumentException(database + " does not match " + name);
        }
        String stem = database.substring(0, database.length() - suffix().length());
        return new DatabaseConfig(database, host, port, dbname.replace(DB_PLACEHOLDER, stem), user, password,
                poolSize, minPoolSize, reservePoolSize, poolMode, maxDbConnections, authUser,
                patroniScope == null ? null : patroniScope.replace(DB_PLACEHOLDER, stem), routing);
    }

    /**
     * The database name a discovered Patroni scope stands for under this template, or null when the
     * scope does not fit (e.g. template "shard_*" with scope "{db}" maps scope shard_c to database shard_c,
     * and "shard_*_ro" maps it to shard_c_ro).
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
        String db = scope.substring(before.length(), scope.length() - after.length()) + suffix();
        return matches(db) && instantiate(db).patroniScope().equals(scope) ? db : null;
    }

    /** What a template's name has after its {@code *} ("_ro" in "shard_*_ro"); empty for a concrete name. */
    private String suffix() {
        int star = name.indexOf('*');
        return star < 0 ? "" : name.substring(star + 1);
    }

    @Override
    public String toString() {
        // never print the password
        String backend = patroniScope != null ? "patroni:" + patroniScope : host + ":" + port;
        return "DatabaseConfig[" + name + " -> " + backend + "/" + dbname
                + (user != null ? " user=" + user : "") + " pool_size=" + poolSize + " pool_mode=" + poolMode.key()
                + (routing.targetSessionAttrs().leaderOnly() ? ""
                        : " target_session_attrs=" + routing.targetSessionAttrs().key())
                + "]";
    }
}
