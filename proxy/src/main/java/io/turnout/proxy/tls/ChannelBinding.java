package io.turnout.proxy.tls;

import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import io.turnout.config.TlsSettings;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Locale;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * tls-server-end-point channel binding data (RFC 5929) for SCRAM-SHA-256-PLUS: the hash of the TLS server
 * certificate, with the certificate's own signature hash (SHA-256 in place of MD5 and SHA-1).
 */
public final class ChannelBinding {
    public static final String SCRAM_PLUS = "SCRAM-SHA-256-PLUS";
    /** server_channel_binding for the server connection on this channel (set where its TLS is set up). */
    public static final io.netty.util.AttributeKey<TlsSettings.ChannelBinding> SERVER_POLICY =
            io.netty.util.AttributeKey.valueOf("turnout.server_channel_binding");

    private ChannelBinding() {
    }

    /** Ours, when {@code ch} is a client connection over TLS; null otherwise. */
    public static byte[] ofLocalCertificate(Channel ch) {
        SSLSession s = session(ch);
        Certificate[] local = s == null ? null : s.getLocalCertificates();
        return local == null || local.length == 0 ? null : endPoint(local[0]);
    }

    /** The server's, when {@code ch} is a server connection over TLS; null otherwise. */
    public static byte[] ofPeerCertificate(Channel ch) {
        SSLSession s = session(ch);
        try {
            Certificate[] peer = s == null ? null : s.getPeerCertificates();
            return peer == null || peer.length == 0 ? null : endPoint(peer[0]);
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
    }

    private static SSLSession session(Channel ch) {
        SslHandler h = ch.pipeline().get(SslHandler.class);
        return h == null || !h.handshakeFuture().isSuccess() ? null : h.engine().getSession();
    }

    static byte[] endPoint(Certificate c) {
        if (!(c instanceof X509Certificate x)) {
            return null;
        }
        String alg = x.getSigAlgName().toUpperCase(Locale.ROOT);
        String hash = alg.contains("SHA384") ? "SHA-384" : alg.contains("SHA512") ? "SHA-512" : "SHA-256";
        try {
            return MessageDigest.getInstance(hash).digest(x.getEncoded());
        } catch (GeneralSecurityException e) {
            return null;
        }
    }
}
