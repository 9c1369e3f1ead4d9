package io.turnout.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.turnout.config.AuthType;
import io.turnout.config.ConfigLoader;
import io.turnout.config.DatabaseConfig;
import io.turnout.config.TlsSettings;
import io.turnout.config.TurnoutConfig;
import io.turnout.protocol.FrontendType;
import io.turnout.protocol.PgProtocolException;
import io.turnout.protocol.PgRead;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.SqlState;
import io.turnout.protocol.StartupPacket;
import io.turnout.protocol.auth.AuthException;
import io.turnout.protocol.auth.Md5;
import io.turnout.protocol.auth.ScramSecret;
import io.turnout.protocol.auth.ScramServer;
import io.turnout.proxy.log.LogText;
import io.turnout.proxy.net.ProxyProtocol;
import io.turnout.proxy.pool.Database;
import io.turnout.proxy.tls.ChannelBinding;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The startup phase of one client: SSL/GSS refusal, cancel requests, version negotiation, authentication. */
final class ClientLogin {
    private static final Logger log = LoggerFactory.getLogger(ClientLogin.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String SCRAM = "SCRAM-SHA-256";

    private enum Step { STARTUP, CLEARTEXT, MD5, SASL_INITIAL, SASL_RESPONSE }

    private final ClientHandler client;
    private final ClientWelcome welcome;
    private final Clients clients;
    private final TurnoutConfig config;
    private Step step = Step.STARTUP;
    private Map<String, String> startup;
    private String user;
    private DatabaseConfig database;
    private String dbName;
    /** The admin console's name when the client asked for it; {@code adminFull}: admin_users, not only stats_users. */
    private String adminDb;
    private boolean adminFull;
    private String secret;
    private byte[] md5Salt;
    private ScramServer scram;
    /** The secret parsed as a SCRAM verifier when it is one (parsed once a login), else null. */
    private ScramSecret verifier;
    private boolean awaitingLookup;
    private boolean secretFromAuthQuery;

    ClientLogin(ClientHandler client, Clients clients, ClientWelcome welcome) {
        this.client = client;
        this.welcome = welcome;
        this.clients = clients;
        this.config = clients.config();
    }

    void onFrame(byte type, ByteBuf frame) {
        try {
            if (step == Step.STARTUP) {
                if (type != FrontendType.UNTYPED) {
                    throw new PgProtocolException("expected a startup packet");
                }
                onStartup(StartupPacket.parse(frame));
            } else {
                if (awaitingLookup) {
                    throw new PgProtocolException("unexpected message before the authentication request");
                }
                if (type != FrontendType.PASSWORD) {
                    throw new PgProtocolException("expected a password response, got message type " + (type & 0xff));
                }
                onPassword(frame);
            }
        } catch (PgProtocolException e) {
            client.fatal(e.sqlState(), e.getMessage());
        } finally {
            frame.release();
        }
    }

    private void onStartup(StartupPacket p) {
        Channel ch = client.channel();
        if (p.isCancelRequest()) {
            clients.cancels().cancel(p.processId(), p.secretKey());
            ch.close();
            return;
        }
        startup = p.parameters();
        ByteBuf out = ch.alloc().buffer(128);
        List<String> unsupported = new ArrayList<>();
        for (String key : startup.keySet()) {
            if (key.startsWith("_pq_.")) {
                unsupported.add(key);
            }
        }
        if (p.minorVersion() > 0 || !unsupported.isEmpty()) {
            PgWrite.negotiateProtocolVersion(out, 0, unsupported); // newest minor version of 3 we speak
        }
        user = startup.get("user");
        if (user == null || user.isEmpty()) {
            out.release();
            client.fatal(SqlState.INVALID_AUTHORIZATION, "no PostgreSQL user name specified in startup packet");
            return;
        }
        dbName = startup.getOrDefault("database", user);
        if (dbName.isEmpty()) {
            dbName = user;
        }
        if (!welcome.countClient()) {
            out.release();
            client.fatal(SqlState.TOO_MANY_CONNECTIONS, "no more connections allowed (max_client_conn "
                    + config.pool().maxClientConn() + ")");
            return;
        }
        if (ConfigLoader.ADMIN_DATABASES.contains(dbName)) {
            // whether the user may use the console is told only after authentication, as for a database
            // name: a stranger cannot find out who is in admin_users or stats_users
            adminFull = config.adminUsers().contains(user);
            adminDb = dbName;
            secret = config.users().get(user);
            challenge(out);
            return;
        }
        database = config.database(dbName);
        if (database != null && !config.databases().containsKey(dbName) && database.isPatroni()
                && !clients.patroniScopeExists(database.patroniScope())) {
            database = null; // a wildcard name with no such Patroni cluster behind it
        }
        secret = config.users().get(user);
        if (database == null) {
            // as PostgreSQL: authenticate first, so a stranger cannot list the database names (3D000 or 28P01)
            challenge(out);
            return;
        }
        String authUser = database.authUser() != null ? database.authUser() : config.authUser();
        if (secret == null && authUser != null && config.authType() != AuthType.TRUST
                && config.authType() != AuthType.CERT) {
            awaitingLookup = true;
            AuthQuery.lookup(clients.pools(), database, authUser, config.authQuery(), user, ch.eventLoop(),
                    new AuthQuery.Result() {
                        @Override
                        public void found(String looked) {
                            awaitingLookup = false;
                            if (ch.isActive()) {
                                secret = looked;
                                secretFromAuthQuery = looked != null;
                                challenge(out);
                            } else {
                                out.release();
                            }
                        }

                        @Override
                        public void failed(String sqlState, String message) {
                            awaitingLookup = false;
                            out.release();
                            client.fatal(sqlState != null ? sqlState : SqlState.CONNECTION_FAILURE, message);
                        }
                    });
            return;
        }
        challenge(out);
    }

    /** Sends the authentication request fitting auth_type and the kind of secret we hold. */
    private void challenge(ByteBuf out) {
        Channel ch = client.channel();
        AuthType method = config.authType();
        if (method == AuthType.MD5 && secret != null && ScramSecret.looksLikeScram(secret)) {
            method = AuthType.SCRAM_SHA_256; // an md5 challenge cannot be checked against a SCRAM verifier
        } else if (method == AuthType.SCRAM_SHA_256 && secret != null && isMd5(secret)) {
            method = AuthType.MD5; // and SCRAM cannot be checked against an md5 hash
        }
        switch (method) {
            case TRUST -> {
                ch.write(out, ch.voidPromise());
                succeed();
                return;
            }
            case PLAIN -> {
                PgWrite.authenticationCleartext(out);
                step = Step.CLEARTEXT;
            }
            case MD5 -> {
                md5Salt = new byte[4];
                RANDOM.nextBytes(md5Salt);
                PgWrite.authenticationMd5(out, md5Salt);
                step = Step.MD5;
            }
            case SCRAM_SHA_256 -> {
                // over TLS, SCRAM-SHA-256-PLUS first, as PostgreSQL lists them
                byte[] binding = binding();
                if (binding == null && config.tls().clientChannelBinding() == TlsSettings.ChannelBinding.REQUIRE) {
                    out.release();
                    fail("client_channel_binding is require, but this connection has no TLS channel to bind to");
                    return;
                }
                PgWrite.authenticationSasl(out, binding == null ? List.of(SCRAM)
                        : config.tls().clientChannelBinding() == TlsSettings.ChannelBinding.REQUIRE
                        ? List.of(ChannelBinding.SCRAM_PLUS) : List.of(ChannelBinding.SCRAM_PLUS, SCRAM));
                step = Step.SASL_INITIAL;
            }
            case CERT -> {
                String cn = io.turnout.proxy.tls.PeerCertificate.commonName(ch);
                ch.write(out, ch.voidPromise());
                if (user.equals(cn)) {
                    succeed();
                } else {
                    log.info("client_auth_failed user=\"{}\" db=\"{}\" addr={} reason=\"{}\"", LogText.of(user),
                            LogText.of(dbName), ProxyProtocol.clientAddress(ch),
                            cn == null ? "no client certificate" : "certificate CN " + LogText.of(cn));
                    LoginFailures.count(LoginFailures.CERTIFICATE);
                    client.fatal(SqlState.INVALID_AUTHORIZATION, "certificate authentication failed for user \""
                            + user + "\"");
                }
                return;
            }
        }
        ch.writeAndFlush(out, ch.voidPromise());
    }

    private void onPassword(ByteBuf frame) {
        switch (step) {
            case CLEARTEXT -> {
                byte[] body = PgRead.body(frame);
                int len = body.length > 0 && body[body.length - 1] == 0 ? body.length - 1 : body.length;
                String password = new String(body, 0, len, StandardCharsets.UTF_8);
                if (secret != null && cleartextMatches(password)) {
                    succeed();
                } else {
                    fail("password does not match");
                }
            }
            case MD5 -> {
                byte[] body = PgRead.body(frame);
                int len = body.length > 0 && body[body.length - 1] == 0 ? body.length - 1 : body.length;
                byte[] response = java.util.Arrays.copyOf(body, len);
                if (secret != null && Md5.verify(secret, user, md5Salt, response)) {
                    succeed();
                } else {
                    fail(secret == null ? "no such user" : "md5 response does not match");
                }
            }
            case SASL_INITIAL -> {
                int start = frame.readerIndex() + PgRead.BODY;
                int end = frame.readerIndex() + 1 + frame.getInt(frame.readerIndex() + 1);
                String mechanism = PgRead.cstring(frame, start, end);
                int at = PgRead.skipCstring(frame, start, end);
                byte[] binding = binding();
                boolean plus = binding != null && ChannelBinding.SCRAM_PLUS.equals(mechanism);
                boolean plain = SCRAM.equals(mechanism)
                        && config.tls().clientChannelBinding() != TlsSettings.ChannelBinding.REQUIRE;
                if (!plain && !plus) {
                    throw new PgProtocolException(SqlState.PROTOCOL_VIOLATION,
                            "client selected an invalid SASL authentication mechanism");
                }
                if (end - at < 4) {
                    throw new PgProtocolException("malformed SASLInitialResponse");
                }
                int length = frame.getInt(at);
                if (length < 0 || length > end - at - 4) {
                    throw new PgProtocolException("malformed SASLInitialResponse");
                }
                byte[] data = new byte[length];
                frame.getBytes(at + 4, data);
                scram = serverFor(secret);
                if (binding != null) {
                    scram.bindChannel(binding, plus);
                }
                try {
                    byte[] serverFirst = scram.handleClientFirst(data);
                    Channel ch = client.channel();
                    ByteBuf out = ch.alloc().buffer(serverFirst.length + 16);
                    PgWrite.authenticationSaslContinue(out, serverFirst);
                    ch.writeAndFlush(out, ch.voidPromise());
                    step = Step.SASL_RESPONSE;
                } catch (AuthException e) {
                    fail(e.getMessage());
                }
            }
            case SASL_RESPONSE -> {
                try {
                    byte[] serverFinal = scram.handleClientFinal(PgRead.body(frame));
                    if (verifier != null) {
                        clients.pools().rememberScramKeys(user, scram.clientKey(), verifier.serverKey());
                    }
                    Channel ch = client.channel();
                    ByteBuf out = ch.alloc().buffer(serverFinal.length + 16);
                    PgWrite.authenticationSaslFinal(out, serverFinal);
                    ch.write(out, ch.voidPromise());
                    succeed();
                } catch (AuthException e) {
                    fail(e.getMessage());
                }
            }
            default -> throw new PgProtocolException("unexpected password message");
        }
    }

    /** Our certificate's tls-server-end-point hash, or null without TLS or with client_channel_binding disable. */
    private byte[] binding() {
        return config.tls().clientChannelBinding() == TlsSettings.ChannelBinding.DISABLE ? null
                : ChannelBinding.ofLocalCertificate(client.channel());
    }

    private ScramServer serverFor(String secret) {
        if (secret == null) {
            return ScramServer.forUnknownUser(user); // a stable salt per name, as a real user's: no tell
        }
        verifier = ScramSecret.parseOrNull(secret);
        return new ScramServer(verifier != null ? verifier : clients.scramSecretFor(user, secret));
    }

    private boolean cleartextMatches(String password) {
        ScramSecret stored = ScramSecret.parseOrNull(secret);
        if (stored != null) {
            return ScramSecret.fromPassword(password, stored.salt(), stored.iterations()).sameKeys(stored);
        }
        String expected = isMd5(secret) ? Md5.hash(user, password) : password;
        // digests of equal length: MessageDigest.isEqual would otherwise answer a length mismatch at once
        return java.security.MessageDigest.isEqual(sha256(expected), sha256(secret));
    }

    private static byte[] sha256(String s) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean isMd5(String secret) {
        return secret.length() == 35 && secret.startsWith("md5");
    }

    private void succeed() {
        if (secretFromAuthQuery) {
            clients.pools().rememberLookedUpSecret(user, secret);
        }
        Channel ch = client.channel();
        ByteBuf out = ch.alloc().buffer(16);
        PgWrite.authenticationOk(out);
        ch.write(out, ch.voidPromise());
        if (adminDb != null) {
            if (!adminFull && !config.statsUsers().contains(user)) {
                log.info("client_admin_refused user=\"{}\" addr={}", LogText.of(user), ProxyProtocol.clientAddress(ch));
                LoginFailures.count(LoginFailures.ADMIN_REFUSED);
                client.fatal(SqlState.INVALID_AUTHORIZATION, "user \"" + user
                        + "\" may not use the admin console (admin_users, stats_users)");
                return;
            }
            welcome.authenticatedAdmin(user, adminDb, adminFull);
            return;
        }
        if (database == null) {
            client.fatal(SqlState.INVALID_CATALOG_NAME, "database \"" + dbName + "\" does not exist");
            return;
        }
        Database state = clients.pools().database(dbName);
        if (state != null && state.disabled()) {
            client.fatal(SqlState.CANNOT_CONNECT_NOW, "database \"" + dbName + "\" does not allow connections (DISABLE)");
            return;
        }
        welcome.authenticated(user, database.name(), clients.pools().pool(database, user), startup);
    }

    private void fail(String reason) {
        log.info("client_auth_failed user=\"{}\" db=\"{}\" addr={} reason=\"{}\"", LogText.of(user), LogText.of(dbName),
                ProxyProtocol.clientAddress(client.channel()), LogText.of(reason));
        LoginFailures.count(LoginFailures.PASSWORD);
        client.sendFatal(SqlState.INVALID_PASSWORD, "password authentication failed for user \"" + user + "\"");
    }

    /** Whether a whole startup packet arrived (a connection that sent none has no user to name). */
    boolean startupReceived() {
        return startup != null;
    }

    /** The client went away mid-login. */
    void abandon() {
        scram = null;
    }
}
