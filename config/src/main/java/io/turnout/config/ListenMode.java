package io.turnout.config;

/**
 * What LISTEN does in transaction and statement pooling (listen_mode). A notification is delivered on the
 * server connection that ran LISTEN, which such a pool hands to other clients between transactions.
 */
public enum ListenMode {
    /** LISTEN is answered with 0A000, telling to use a session-mode pool: nothing is lost silently. */
    ERROR,
    /** The client keeps its server from LISTEN until UNLISTEN * or its disconnect, as in session mode. */
    PIN;

    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    static ListenMode of(String value) {
        for (ListenMode m : values()) {
            if (m.key().equalsIgnoreCase(value)) {
                return m;
            }
        }
        return null;
    }
}
