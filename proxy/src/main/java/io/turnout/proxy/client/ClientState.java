package io.turnout.proxy.client;

/**
 * Where one client stands, in PgBouncer's vocabulary so operators recognise it: logging in, IDLE (logged in,
 * no server), WAITING (queued for a server), ACTIVE (linked to one), then closed.
 */
enum ClientState {
    LOGIN("login"),
    /** PgBouncer's word for a logged-in client without a server. */
    IDLE("idle"),
    WAITING("waiting"),
    ACTIVE("active"),
    CLOSED(null);

    /** As SHOW CLIENTS prints it; null once closed (no row). */
    final String shown;

    ClientState(String shown) {
        this.shown = shown;
    }
}
