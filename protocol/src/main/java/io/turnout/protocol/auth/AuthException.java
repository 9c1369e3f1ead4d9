package io.turnout.protocol.auth;

/**
 * A failed or malformed authentication exchange. The message is meant for the pooler's log (it may say
 * why, e.g. "unknown user"); callers send the client only a generic SQLSTATE 28P01 error, as PostgreSQL
 * does, so a client cannot tell a wrong password from a missing role.
 */
public final class AuthException extends Exception {
    public AuthException(String message) {
        super(message);
    }

    public AuthException(String message, Throwable cause) {
        super(message, cause);
    }
}
