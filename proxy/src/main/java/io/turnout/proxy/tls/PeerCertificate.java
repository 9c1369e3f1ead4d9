package io.turnout.proxy.tls;

import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;

/** The verified certificate a client presented during the TLS handshake (auth_type cert: its CN is the user). */
public final class PeerCertificate {
    private PeerCertificate() {
    }

    /** The client certificate's CommonName, or null when the client has no TLS or sent no certificate. */
    public static String commonName(Channel ch) {
        SslHandler h = ch.pipeline().get(SslHandler.class);
        return h == null || !h.handshakeFuture().isSuccess() ? null : commonName(h);
    }

    static String commonName(SslHandler h) {
        try {
            Certificate[] chain = h.engine().getSession().getPeerCertificates();
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
                return null;
            }
            for (Rdn rdn : new LdapName(leaf.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return String.valueOf(rdn.getValue());
                }
            }
            return null;
        } catch (SSLPeerUnverifiedException | InvalidNameException | UnsupportedOperationException e) {
            return null;
        }
    }
}
