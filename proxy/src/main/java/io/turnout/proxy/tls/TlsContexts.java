package io.turnout.proxy.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslContextOption;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.turnout.config.ConfigException;
import io.turnout.config.Pem;
import io.turnout.config.SslMode;
import io.turnout.config.TlsSettings;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * The TLS contexts of one configuration, built once (at start and on each RELOAD) and shared by every
 * handshake: towards clients (Turnout is the TLS server) and towards PostgreSQL (Turnout is the TLS
 * client, one context that trusts anything for require/prefer and one that checks the CA for verify-*).
 * Immutable: a reload builds a new instance, so a running handshake keeps the context it started with.
 */
public final class TlsContexts {
    /** OpenSSL (BoringSSL via netty-tcnative) when it loads, else the JDK; -Dturnout.tls.engine=jdk forces the JDK. */
    public static final SslProvider PROVIDER =
            !"jdk".equalsIgnoreCase(System.getProperty("turnout.tls.engine")) && OpenSsl.isAvailable()
                    ? SslProvider.OPENSSL : SslProvider.JDK;

    /** The ALPN protocol name PostgreSQL 17 registered; required for direct TLS. */
    public static final String ALPN = "postgresql";

    private final TlsSettings settings;
    private final SslContext forClients;
    private final SslContext toServersTrusting;
    private final SslContext toServersVerifying;

    private TlsContexts(TlsSettings settings, SslContext forClients, SslContext trusting, SslContext verifying) {
        this.settings = settings;
        this.forClients = forClients;
        this.toServersTrusting = trusting;
        this.toServersVerifying = verifying;
    }

    /** "openssl (BoringSSL ...)" or "jdk": for the startup log and SHOW CONFIG. */
    public static String engine() {
        return PROVIDER == SslProvider.OPENSSL ? "openssl (" + OpenSsl.versionString() + ")" : "jdk";
    }

    /** Reads the files named in {@code s} and builds the contexts; an error names the key and file. */
    public static TlsContexts build(TlsSettings s) throws ConfigException {
        SslContext clients = null;
        if (s.clientTls()) {
            try {
                PrivateKey key = Pem.privateKey(s.clientKeyFile());
                List<X509Certificate> chain = Pem.certificates(s.clientCertFile());
                SslContextBuilder b = SslContextBuilder.forServer(key, chain).sslProvider(PROVIDER)
                        .protocols(s.clientProtocols()).ciphers(s.clientCiphers().isEmpty() ? null : s.clientCiphers());
                if (s.clientCaFile() != null) {
                    b.trustManager(Pem.certificates(s.clientCaFile()));
                    // verify-*: a certificate is required; otherwise asked for, so auth_type cert can use it
                    b.clientAuth(s.clientMode().verifies() ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL);
                }
                b.applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ALPN));
                if (s.clientEcdhCurve() != null && PROVIDER == SslProvider.OPENSSL) {
                    b.option(OpenSslContextOption.GROUPS, s.clientEcdhCurve().split("[:,]"));
                }
                clients = b.build();
            } catch (Exception e) {
                throw new ConfigException("client_tls_cert_file/client_tls_key_file: cannot set up TLS for clients from "
                        + s.clientCertFile() + " and " + s.clientKeyFile() + ": " + e.getMessage(), e);
            }
        }
        SslContext trusting;
        SslContext verifying = null;
        try {
            trusting = toServers(s, false);
        } catch (Exception e) {
            throw new ConfigException("server_tls_*: cannot set up TLS towards servers: " + e.getMessage(), e);
        }
        if (s.serverCaFile() != null) {
            try {
                verifying = toServers(s, true);
            } catch (Exception e) {
                throw new ConfigException("server_tls_ca_file: cannot set up TLS towards servers with "
                        + s.serverCaFile() + ": " + e.getMessage(), e);
            }
        }
        return new TlsContexts(s, clients, trusting, verifying);
    }

    private static SslContext toServers(TlsSettings s, boolean verify) throws Exception {
        SslContextBuilder b = SslContextBuilder.forClient().sslProvider(PROVIDER).protocols(s.serverProtocols())
                .ciphers(s.serverCiphers().isEmpty() ? null : s.serverCiphers())
                .endpointIdentificationAlgorithm(null); // verify-full sets it per engine, with the host dialled
        if (verify) {
            b.trustManager(Pem.certificates(s.serverCaFile()));
        } else {
            b.trustManager(InsecureTrustManagerFactory.INSTANCE); // libpq's require: encrypted, not authenticated
        }
        if (s.serverKeyFile() != null) {
            b.keyManager(Pem.privateKey(s.serverKeyFile()), Pem.certificates(s.serverCertFile()));
        }
        return b.build();
    }

    public TlsSettings settings() {
        return settings;
    }

    /** Whether an SSLRequest is answered 'S'. */
    public boolean clientTls() {
        return forClients != null;
    }

    /** A server-mode handler for one client; its handshake is bounded by {@code timeout} (0: 10 s). */
    public SslHandler clientHandler(ByteBufAllocator alloc, Duration timeout) {
        SslHandler h = forClients.newHandler(alloc);
        h.setHandshakeTimeoutMillis(timeout.isZero() ? 10_000 : timeout.toMillis());
        return h;
    }

    /**
     * A client-mode handler towards a PostgreSQL server at {@code host}: verify-full checks that host
     * name (or IP) against the certificate, verify-ca only the chain, the other modes nothing.
     */
    public SslHandler serverHandler(ByteBufAllocator alloc, SslMode mode, String host, int port, Duration timeout) {
        SslContext ctx = mode.verifies() ? toServersVerifying : toServersTrusting;
        SSLEngine engine = ctx.newEngine(alloc, host, port);
        if (mode == SslMode.VERIFY_FULL) {
            SSLParameters p = engine.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            engine.setSSLParameters(p);
        }
        SslHandler h = new SslHandler(engine);
        h.setHandshakeTimeoutMillis(Math.max(1, timeout.toMillis()));
        return h;
    }

    /** Files this context was built from, for the reload log. */
    public List<Path> files() {
        return java.util.stream.Stream.of(settings.clientCertFile(), settings.clientKeyFile(), settings.clientCaFile(),
                settings.serverCaFile(), settings.serverCertFile(), settings.serverKeyFile())
                .filter(java.util.Objects::nonNull).toList();
    }
}
