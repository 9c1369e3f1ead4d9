package io.turnout.config;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * PEM certificates and private keys as operators have them (what Consul, etcd and Patroni use), turned
 * into a JDK {@link SSLContext} without keytool. Keys: PKCS#8 ({@code BEGIN PRIVATE KEY}), PKCS#1
 * ({@code BEGIN RSA PRIVATE KEY}) and SEC1 ({@code BEGIN EC PRIVATE KEY}); encrypted keys are refused
 * with a message saying how to decrypt them.
 */
public final class Pem {
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----\\R?(.*?)-----END \\1-----", Pattern.DOTALL);
    private static final char[] NO_PASSWORD = new char[0];
    private static final byte[] OID_RSA = {0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01};
    private static final byte[] OID_EC = {0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};

    private Pem() {
    }

    public static List<X509Certificate> certificates(Path file) throws IOException, GeneralSecurityException {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        List<X509Certificate> out = new ArrayList<>();
        Matcher m = BLOCK.matcher(Files.readString(file, StandardCharsets.US_ASCII));
        while (m.find()) {
            if (m.group(1).equals("CERTIFICATE")) {
                out.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(body(m.group(2)))));
            }
        }
        if (out.isEmpty()) {
            throw new GeneralSecurityException(file + ": no -----BEGIN CERTIFICATE----- block");
        }
        return out;
    }

    public static PrivateKey privateKey(Path file) throws IOException, GeneralSecurityException {
        Matcher m = BLOCK.matcher(Files.readString(file, StandardCharsets.US_ASCII));
        while (m.find()) {
            String type = m.group(1);
            switch (type) {
                case "PRIVATE KEY":
                    return pkcs8(file, body(m.group(2)));
                case "RSA PRIVATE KEY":
                    rejectEncrypted(file, m.group(2));
                    return pkcs8(file, wrapPkcs8(OID_RSA, new byte[] {0x05, 0x00}, body(m.group(2))));
                case "EC PRIVATE KEY":
                    rejectEncrypted(file, m.group(2));
                    byte[] sec1 = body(m.group(2));
                    return pkcs8(file, wrapPkcs8(OID_EC, sec1Curve(file, sec1), sec1));
                case "ENCRYPTED PRIVATE KEY":
                    throw new GeneralSecurityException(file + ": encrypted private keys are not supported;"
                            + " decrypt it with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pem");
                default:
                    // EC PARAMETERS and certificates may share the file; skip them
            }
        }
        throw new GeneralSecurityException(file + ": no -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY) block");
    }

    /**
     * A TLS context: trust {@code caFile} (or the JDK's default CAs when null), present {@code certFile} +
     * {@code keyFile} when given. {@code verify=false} trusts any certificate and host name, on purpose.
     */
    public static SSLContext sslContext(Path caFile, Path certFile, Path keyFile, boolean verify)
            throws IOException, GeneralSecurityException {
        KeyManagerFactory kmf = null;
        if (certFile != null && keyFile != null) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("key", privateKey(keyFile), NO_PASSWORD, certificates(certFile).toArray(new Certificate[0]));
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, NO_PASSWORD);
        }
        TrustManager[] trust = null;
        if (!verify) {
            trust = new TrustManager[] {new TrustAll()};
        } else if (caFile != null) {
            KeyStore ts = KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            int i = 0;
            for (X509Certificate c : certificates(caFile)) {
                ts.setCertificateEntry("ca" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ts);
            trust = tmf.getTrustManagers();
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : kmf.getKeyManagers(), trust, null);
        return ctx;
    }

    private static PrivateKey pkcs8(Path file, byte[] der) throws GeneralSecurityException {
        for (String alg : new String[] {"RSA", "EC", "Ed25519", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // not this algorithm; try the next
            }
        }
        throw new GeneralSecurityException(file + ": unreadable private key (expected RSA, EC or Ed25519)");
    }

    private static void rejectEncrypted(Path file, String body) throws GeneralSecurityException {
        if (body.contains("ENCRYPTED")) {
            throw new GeneralSecurityException(file + ": encrypted private keys are not supported;"
                    + " decrypt it with: openssl pkey -in KEY -out KEY.pem");
        }
    }

    private static byte[] body(String base64) {
        return Base64.getMimeDecoder().decode(base64);
    }

    /** PrivateKeyInfo ::= SEQUENCE { 0, AlgorithmIdentifier { oid, params }, OCTET STRING key }. */
    private static byte[] wrapPkcs8(byte[] oid, byte[] params, byte[] key) {
        byte[] algId = tlv(0x30, concat(tlv(0x06, oid), params));
        return tlv(0x30, concat(new byte[] {0x02, 0x01, 0x00}, algId, tlv(0x04, key)));
    }

    /** The named-curve OID (as a full TLV) in SEC1's ECPrivateKey [0] parameters. */
    private static byte[] sec1Curve(Path file, byte[] der) throws GeneralSecurityException {
        try {
            int[] pos = {0};
            expect(der, pos, 0x30);
            readLength(der, pos);
            while (pos[0] < der.length) {
                int tag = der[pos[0]++] & 0xff;
                int len = readLength(der, pos);
                if (tag == 0xa0) {
                    int start = pos[0];
                    expect(der, pos, 0x06);
                    int oidLen = readLength(der, pos);
                    byte[] out = new byte[pos[0] - start + oidLen];
                    System.arraycopy(der, start, out, 0, out.length);
                    return out;
                }
                pos[0] += len;
            }
        } catch (IndexOutOfBoundsException e) {
            // falls through to the error
        }
        throw new GeneralSecurityException(file + ": EC PRIVATE KEY without a named curve");
    }

    private static void expect(byte[] der, int[] pos, int tag) {
        if ((der[pos[0]++] & 0xff) != tag) {
            throw new IndexOutOfBoundsException("unexpected DER tag");
        }
    }

    private static int readLength(byte[] der, int[] pos) {
        int first = der[pos[0]++] & 0xff;
        if (first < 0x80) {
            return first;
        }
        int len = 0;
        for (int i = 0; i < (first & 0x7f); i++) {
            len = (len << 8) | (der[pos[0]++] & 0xff);
        }
        return len;
    }

    private static byte[] tlv(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(tag);
        int len = content.length;
        if (len < 0x80) {
            out.write(len);
        } else if (len < 0x100) {
            out.write(0x81);
            out.write(len);
        } else if (len < 0x10000) {
            out.write(0x82);
            out.write(len >> 8);
            out.write(len);
        } else {
            out.write(0x83);
            out.write(len >> 16);
            out.write(len >> 8);
            out.write(len);
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** verify: false. Being an X509ExtendedTrustManager also switches off the JDK's host name check. */
    private static final class TrustAll extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
