package io.turnout.protocol;

/** The peer broke the wire protocol; the connection cannot continue. Carries the SQLSTATE to report. */
public final class PgProtocolException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String sqlState;

    public PgProtocolException(String message) {
        this(SqlState.PROTOCOL_VIOLATION, message);
    }

    public PgProtocolException(String sqlState, String message) {
        super(message, null, false, false);
        this.sqlState = sqlState;
    }

    public String sqlState() {
        return sqlState;
    }
}
