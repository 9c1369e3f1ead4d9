package io.turnout.config;

/** When a server connection goes back to the pool (PgBouncer's pool_mode). */
public enum PoolMode {
    /** After the client disconnects. */
    SESSION,
    /** After each transaction (ReadyForQuery 'I' with nothing outstanding). */
    TRANSACTION,
    /** After each statement; multi-statement transactions are refused. */
    STATEMENT;

    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    static PoolMode of(String value) {
        for (PoolMode m : values()) {
            if (m.key().equalsIgnoreCase(value)) {
                return m;
            }
        }
        return null;
    }
}
