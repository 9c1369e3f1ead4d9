package io.turnout.proxy.tls;

import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import io.turnout.proxy.net.ProxyProtocol;
import java.util.concurrent.atomic.LongAdder;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts and logs TLS handshakes on both sides ({@code turnout_tls_handshakes_total{side,result}}), and
 * describes a channel's TLS session as PgBouncer's SHOW CLIENTS / SHOW SERVERS {@code tls} column does.
 */
public final class TlsHandshakes {
    private static final Logger log = LoggerFactory.getLogger(TlsHandshakes.class);
    public static final LongAdder CLIENT_OK = new LongAdder();
    public static final LongAdder CLIENT_FAILED = new LongAdder();
    public static final LongAdder SERVER_OK = new LongAdder();
    public static final LongAdder SERVER_FAILED = new LongAdder();

    private TlsHandshakes() {
    }

    /** Counts the outcome of {@code h}'s handshake and logs a failure with the peer and the reason. */
    public static void watch(SslHandler h, Channel ch, boolean clientSide) {
        h.handshakeFuture().addListener(f -> {
            if (f.isSuccess()) {
                (clientSide ? CLIENT_OK : SERVER_OK).increment();
                return;
            }
            (clientSide ? CLIENT_FAILED : SERVER_FAILED).increment();
            Throwable cause = f.cause();
            while (cause.getCause() != null && cause.getCause() != cause) {
                cause = cause.getCause();
            }
            log.info("tls_handshake_failed side={} addr={} reason=\"{}\"", clientSide ? "client" : "server",
                    clientSide ? ProxyProtocol.clientAddress(ch) : ch.remoteAddress(),
                    String.valueOf(cause.getMessage()).replace('"', '\''));
        });
    }

    /** "TLSv1.3/TLS_AES_256_GCM_SHA384" (plus "/CN=name" for a client certificate), or "" without TLS. */
    public static String describe(Channel ch) {
        SslHandler h = ch == null ? null : ch.pipeline().get(SslHandler.class);
        if (h == null || !h.handshakeFuture().isSuccess()) {
            return "";
        }
        SSLSession s = h.engine().getSession();
        String cn = PeerCertificate.commonName(h);
        return s.getProtocol() + "/" + s.getCipherSuite() + (cn != null ? "/CN=" + cn : "");
    }
}
