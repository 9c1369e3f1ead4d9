package io.turnout.proxy.server;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.ScheduledFuture;
import io.turnout.protocol.AuthRequest;
import io.turnout.protocol.BackendType;
import io.turnout.protocol.PgRead;
import io.turnout.protocol.ServerError;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.auth.AuthException;
import io.turnout.protocol.auth.Md5;
import io.turnout.protocol.auth.ScramClient;
import io.turnout.config.TlsSettings;
import io.turnout.proxy.log.LogText;
import io.turnout.proxy.net.ShutdownInputOnCloseHandler;
import io.turnout.proxy.tls.ChannelBinding;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The login of one server connection, from connect to hand-off: the connect and its timeout, StartupMessage,
 * the authentication requests, then the parameters and cancel key PostgreSQL reports until ReadyForQuery.
 * The outcome goes to the connection's {@link ServerOwner}, on the connection's loop.
 */
final class ServerLogin {
    private static final Logger log = LoggerFactory.getLogger(ServerLogin.class);
    private static final String SCRAM = "SCRAM-SHA-256";

    private final ServerConnection server;
    private final ServerCredentials credentials;
    private ScramClient scram;
    /** The SCRAM exchange was bound to the TLS channel (SCRAM-SHA-256-PLUS). */
    private boolean bound;
    private ScheduledFuture<?> timeout;

    ServerLogin(ServerConnection server, ServerCredentials credentials) {
        this.server = server;
        this.credentials = credentials;
    }

    /** Connects on {@code bootstrap}'s loop; {@code tls} null: plaintext (server_tls_sslmode disable or allow). */
    void connect(Bootstrap bootstrap, ServerTls tls, long timeoutMillis) {
        InetSocketAddress address = server.address();
        ChannelFuture f = bootstrap.clone().handler(tls == null ? server.handler
                : tls.initializer(server, address, Duration.ofMillis(timeoutMillis))).connect(address);
        // a server socket whose close is lost keeps its backend alive (PostgreSQL waits for the FIN)
        ShutdownInputOnCloseHandler.guard(f.channel());
        server.attach(f.channel());
        timeout = f.channel().eventLoop().schedule(() -> fail("08006",
                "server login timed out after " + timeoutMillis + " ms (server_connect_timeout)"),
                timeoutMillis, TimeUnit.MILLISECONDS);
        f.addListener(done -> {
            if (!done.isSuccess()) {
                fail("08006", "could not connect to server " + address.getHostString() + ":"
                        + address.getPort() + ": " + ServerConnection.rootMessage(done.cause()));
            }
        });
    }

    /** The login failed (or the connection died during it): the owner hears it once. */
    void fail(String sqlState, String message) {
        if (server.state() != ServerConnection.State.LOGIN) {
            return;
        }
        server.loginEnded(false);
        if (timeout != null) {
            timeout.cancel(false);
        }
        log.warn("server_login_failed db={} user={} addr={} sqlstate={} error=\"{}\"", LogText.of(server.database()),
                LogText.of(credentials.user()), server.address(), sqlState, LogText.of(message)); // the client's user, db
        server.channel().close();
        server.owner().loginFailed(server, sqlState, message);
    }

    private void succeeded() {
        if (timeout != null) {
            timeout.cancel(false);
        }
        server.loginEnded(true);
        log.debug("server_login_ok id={} db={} user={} pid={}", server.id(), server.database(), credentials.user(),
                server.backendPid());
        server.owner().loginSucceeded(server);
    }

    void start(ChannelHandlerContext ctx) {
        ByteBuf out = ctx.alloc().buffer(128);
        Map<String, String> startup = new LinkedHashMap<>();
        startup.put("user", credentials.user());
        startup.put("database", server.database());
        PgWrite.startupMessage(out, startup);
        ctx.writeAndFlush(out, ctx.voidPromise());
    }

    /** One whole frame of the login phase (owned). */
    void onFrame(byte type, ByteBuf frame) {
        try {
            switch (type) {
                case BackendType.AUTHENTICATION -> {
                    Channel channel = server.channel();
                    ByteBuf out = channel.alloc().buffer(256);
                    try {
                        respond(AuthRequest.parse(frame), out);
                    } catch (AuthException e) {
                        out.release();
                        fail("28P01", "server login failed for user " + credentials.user() + ": "
                                + e.getMessage());
                        return;
                    }
                    if (out.isReadable()) {
                        channel.writeAndFlush(out, channel.voidPromise());
                    } else {
                        out.release();
                    }
                }
                case BackendType.PARAMETER_STATUS -> {
                    String[] nv = PgRead.parameterStatus(frame);
                    server.params.loggedIn(nv[0], nv[1]);
                }
                case BackendType.BACKEND_KEY_DATA -> {
                    server.backendPid = frame.getInt(frame.readerIndex() + 5);
                    server.backendSecret = frame.getInt(frame.readerIndex() + 9);
                }
                case BackendType.ERROR_RESPONSE -> {
                    ServerError e = ServerError.parse(frame);
                    fail(e.sqlState() != null ? e.sqlState() : "08006", e.message());
                }
                case BackendType.READY_FOR_QUERY -> succeeded();
                default -> { } // NoticeResponse, NegotiateProtocolVersion: nothing to do
            }
        } finally {
            frame.release();
        }
    }

    private TlsSettings.ChannelBinding policy() {
        TlsSettings.ChannelBinding p = server.channel().attr(ChannelBinding.SERVER_POLICY).get();
        return p != null ? p : TlsSettings.ChannelBinding.PREFER;
    }

    private void requireNoBinding() throws AuthException {
        if (policy() == TlsSettings.ChannelBinding.REQUIRE) {
            throw new AuthException("server_channel_binding is require, but the server asks for a password"
                    + " method without channel binding");
        }
    }

    /**
     * Writes the reply to {@code request} into {@code out}.
     *
     * @return true when authentication is complete (AuthenticationOk)
     */
    private boolean respond(AuthRequest request, ByteBuf out) throws AuthException {
        switch (request.code()) {
            case AuthRequest.OK:
                if (policy() == TlsSettings.ChannelBinding.REQUIRE && !bound) {
                    throw new AuthException("server_channel_binding is require, but the server authenticated us"
                            + " without channel binding");
                }
                return true;
            case AuthRequest.CLEARTEXT:
                requireNoBinding();
                if (!credentials.hasPlainPassword()) {
                    throw new AuthException("server asks for a cleartext password but only a hashed secret is known for user "
                            + credentials.user());
                }
                PgWrite.passwordMessage(out, credentials.secret().getBytes(StandardCharsets.UTF_8));
                return false;
            case AuthRequest.MD5:
                requireNoBinding();
                if (credentials.secret() == null || credentials.secret().startsWith("SCRAM-SHA-256$")) {
                    throw new AuthException("server asks for md5 but no password or md5 secret is known for user "
                            + credentials.user());
                }
                PgWrite.passwordMessage(out, Md5.response(credentials.secret(), credentials.user(), request.data()));
                return false;
            case AuthRequest.SASL:
                byte[] binding = request.mechanisms().contains(ChannelBinding.SCRAM_PLUS)
                        && policy() != TlsSettings.ChannelBinding.DISABLE
                        ? ChannelBinding.ofPeerCertificate(server.channel()) : null;
                if (binding == null && policy() == TlsSettings.ChannelBinding.REQUIRE) {
                    throw new AuthException("server_channel_binding is require, but the server offers no"
                            + " SCRAM-SHA-256-PLUS over TLS (mechanisms " + request.mechanisms() + ")");
                }
                bound = binding != null;
                if (binding == null && !request.mechanisms().contains(SCRAM)) {
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
                if (binding != null) {
                    scram.bindChannel(binding); // PostgreSQL offers -PLUS over TLS: prove no one sits in between
                }
                PgWrite.saslInitialResponse(out, binding != null ? ChannelBinding.SCRAM_PLUS : SCRAM,
                        scram.clientFirstMessage());
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
