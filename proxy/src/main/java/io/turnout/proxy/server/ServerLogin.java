package io.turnout.proxy.server;

import io.netty.buffer.ByteBuf;
import io.turnout.protocol.AuthRequest;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.auth.AuthException;
import io.turnout.protocol.auth.Md5;
import io.turnout.protocol.auth.ScramClient;
import java.nio.charset.StandardCharsets;

/** Answers PostgreSQL's authentication requests for one server login. */
final class ServerLogin {
    private static final String SCRAM = "SCRAM-SHA-256";

    private final ServerCredentials credentials;
    private ScramClient scram;

    ServerLogin(ServerCredentials credentials) {
        this.credentials = credentials;
    }

    /**
     * Writes the reply to {@code request} into {@code out}.
     *
     * @return true when authentication is complete (AuthenticationOk)
     */
    boolean respond(AuthRequest request, ByteBuf out) throws AuthException {
        switch (request.code()) {
            case AuthRequest.OK:
                return true;
            case AuthRequest.CLEARTEXT:
                if (!credentials.hasPlainPassword()) {
                    throw new AuthException("server asks for a cleartext password but only a hashed secret is known for user "
                            + credentials.user());
                }
                PgWrite.passwordMessage(out, credentials.secret().getBytes(StandardCharsets.UTF_8));
                return false;
            case AuthRequest.MD5:
                if (credentials.secret() == null || credentials.secret().startsWith("SCRAM-SHA-256$")) {
                    throw new AuthException("server asks for md5 but no password or md5 secret is known for user "
                            + credentials.user());
                }
                PgWrite.passwordMessage(out, Md5.response(credentials.secret(), credentials.user(), request.data()));
                return false;
            case AuthRequest.SASL:
                if (!request.mechanisms().contains(SCRAM)) {
                    throw new AuthException("server offers SASL mechanisms " + request.mechanisms() + ", none supported");
                }
                if (credentials.hasPlainPassword()) {
                    scram = new ScramClient(credentials.secret());
                } else if (credentials.scramClientKey() != null) {
                    scram = new ScramClient(credentials.scramClientKey(), credentials.scramServerKey());
                } else {
                    throw new AuthException("server asks for SCRAM but user " + credentials.user()
                            + " has no plain password, and no client has logged in with SCRAM yet to lend its keys");
                }
                PgWrite.saslInitialResponse(out, SCRAM, scram.clientFirstMessage());
                return false;
            case AuthRequest.SASL_CONTINUE:
                if (scram == null) {
                    throw new AuthException("unexpected SASLContinue");
                }
                PgWrite.saslResponse(out, scram.handleServerFirst(request.data()));
                return false;
            case AuthRequest.SASL_FINAL:
                if (scram == null) {
                    throw new AuthException("unexpected SASLFinal");
                }
                scram.verifyServerFinal(request.data());
                return false;
            default:
                throw new AuthException("unsupported authentication request " + request.code() + " from server");
        }
    }
}
