package io.turnout.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads the client_tls_* and server_tls_* keys into {@link TlsSettings} and checks every file the way
 * startup must: present, readable, parseable, not expired, the key belongs to the certificate, and a key
 * file not readable by group or others (0600). RELOAD runs the same checks, so a bad file keeps the old
 * configuration.
 */
public final class TlsSection {
    static final List<String> KEYS = List.of("client_tls_sslmode", "client_tls_key_file", "client_tls_cert_file",
            "client_tls_ca_file", "client_tls_protocols", "client_tls_ciphers", "client_tls_ecdhcurve",
            "server_tls_sslmode", "server_tls_ca_file", "server_tls_key_file", "server_tls_cert_file",
            "server_tls_protocols", "server_tls_ciphers", "client_channel_binding", "server_channel_binding");

    private TlsSection() {
    }

    static TlsSettings parse(YamlSection top, YamlSection databases, Path baseDir) throws ConfigException {
        SslMode clientMode = mode(top, "client_tls_sslmode", SslMode.DISABLE);
        Path clientKey = file(top, "client_tls_key_file", baseDir);
        Path clientCert = file(top, "client_tls_cert_file", baseDir);
        Path clientCa = file(top, "client_tls_ca_file", baseDir);
        if (clientMode != SslMode.DISABLE && (clientKey == null || clientCert == null)) {
            throw top.error("client_tls_sslmode", "client_tls_sslmode " + clientMode.key()
                    + " needs client_tls_key_file and client_tls_cert_file (the certificate Turnout shows clients)");
        }
        if (clientMode.verifies() && clientCa == null) {
            throw top.error("client_tls_sslmode", "client_tls_sslmode " + clientMode.key()
                    + " needs client_tls_ca_file (the CA that signs client certificates)");
        }
        if ((clientKey == null) != (clientCert == null)) {
            throw top.error(clientKey == null ? "client_tls_cert_file" : "client_tls_key_file",
                    "client_tls_key_file and client_tls_cert_file go together");
        }
        if (clientKey != null) {
            keyPair(top, "client_tls_key_file", clientKey, "client_tls_cert_file", clientCert);
        }
        if (clientCa != null) {
            certificates(top, "client_tls_ca_file", clientCa);
        }
        SslMode serverMode = mode(top, "server_tls_sslmode", SslMode.PREFER);
        Path serverCa = file(top, "server_tls_ca_file", baseDir);
        Path serverKey = file(top, "server_tls_key_file", baseDir);
        Path serverCert = file(top, "server_tls_cert_file", baseDir);
        if ((serverKey == null) != (serverCert == null)) {
            throw top.error(serverKey == null ? "server_tls_cert_file" : "server_tls_key_file",
                    "server_tls_key_file and server_tls_cert_file go together");
        }
        if (serverKey != null) {
            keyPair(top, "server_tls_key_file", serverKey, "server_tls_cert_file", serverCert);
        }
        if (serverCa != null) {
            certificates(top, "server_tls_ca_file", serverCa);
        }
        Map<String, SslMode> perDb = new LinkedHashMap<>();
        boolean anyVerify = serverMode.verifies();
        if (databases != null) {
            for (String db : databases.keys()) {
                YamlSection d = databases.section(db);
                if (d.has("server_tls_sslmode")) {
                    SslMode m = mode(d, "server_tls_sslmode", serverMode);
                    perDb.put(db, m);
                    anyVerify |= m.verifies();
                }
            }
        }
        if (anyVerify && serverCa == null) {
            throw top.error("server_tls_ca_file", "server_tls_sslmode verify-ca/verify-full needs server_tls_ca_file"
                    + " (the CA that signs PostgreSQL's certificate)");
        }
        TlsSettings.ChannelBinding clientBinding = binding(top, "client_channel_binding");
        if (clientBinding == TlsSettings.ChannelBinding.REQUIRE && !clientMode.required()) {
            throw top.error("client_channel_binding", "client_channel_binding require needs client_tls_sslmode"
                    + " require or stricter (channel binding exists only on TLS connections)");
        }
        TlsSettings.ChannelBinding serverBinding = binding(top, "server_channel_binding");
        if (serverBinding == TlsSettings.ChannelBinding.REQUIRE && (!serverMode.required()
                || perDb.values().stream().anyMatch(m -> !m.required()))) {
            throw top.error("server_channel_binding", "server_channel_binding require needs server_tls_sslmode"
                    + " require or stricter, for every database");
        }
        return new TlsSettings(clientMode, clientKey, clientCert, clientCa,
                protocols(top, "client_tls_protocols"), ciphers(top, "client_tls_ciphers"), curve(top),
                serverMode, serverCa, serverKey, serverCert,
                protocols(top, "server_tls_protocols"), ciphers(top, "server_tls_ciphers"), Map.copyOf(perDb),
                clientBinding, serverBinding);
    }

    private static TlsSettings.ChannelBinding binding(YamlSection s, String key) throws ConfigException {
        String raw = s.string(key, "prefer");
        TlsSettings.ChannelBinding b = TlsSettings.ChannelBinding.of(raw);
        if (b == null) {
            throw s.error(key, "expected one of disable, prefer, require, got '" + raw + "'");
        }
        return b;
    }

    private static SslMode mode(YamlSection s, String key, SslMode fallback) throws ConfigException {
        String raw = s.string(key, fallback.key());
        SslMode m = SslMode.of(raw);
        if (m == null) {
            throw s.error(key, "expected one of " + SslMode.ALLOWED + ", got '" + raw + "'");
        }
        return m;
    }

    private static Path file(YamlSection s, String key, Path baseDir) throws ConfigException {
        Path p = s.path(key, baseDir);
        if (p == null) {
            return null;
        }
        if (!Files.exists(p)) {
            throw s.error(key, "file " + p + " does not exist");
        }
        if (!Files.isReadable(p) || Files.isDirectory(p)) {
            throw s.error(key, "cannot read " + p);
        }
        return p;
    }

    /** Checks a certificate + key pair; the message names the key and the file at fault. */
    static void keyPair(YamlSection s, String keyKey, Path keyFile, String certKey, Path certFile)
            throws ConfigException {
        String loose = looseKeyPermissions(keyFile);
        if (loose != null) {
            throw s.error(keyKey, "private key " + keyFile + " is readable by group or others (" + loose
                    + "); it must be 0600: chmod 600 " + keyFile);
        }
        PrivateKey key;
        try {
            key = Pem.privateKey(keyFile);
        } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
            throw s.error(keyKey, "cannot load private key " + keyFile + ": " + e.getMessage());
        }
        X509Certificate leaf = certificates(s, certKey, certFile).get(0);
        if (!matches(key, leaf.getPublicKey())) {
            throw s.error(keyKey, "private key " + keyFile + " does not match the certificate in " + certFile
                    + " (" + certKey + ")");
        }
    }

    static List<X509Certificate> certificates(YamlSection s, String key, Path file) throws ConfigException {
        List<X509Certificate> certs;
        try {
            certs = Pem.certificates(file);
        } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
            throw s.error(key, "cannot load certificate " + file + ": " + e.getMessage());
        }
        for (X509Certificate c : certs) {
            try {
                c.checkValidity();
            } catch (java.security.cert.CertificateExpiredException e) {
                throw s.error(key, "certificate " + file + " (" + c.getSubjectX500Principal().getName()
                        + ") expired on " + c.getNotAfter().toInstant());
            } catch (java.security.cert.CertificateNotYetValidException e) {
                throw s.error(key, "certificate " + file + " (" + c.getSubjectX500Principal().getName()
                        + ") is not valid before " + c.getNotBefore().toInstant());
            }
        }
        return certs;
    }

    /** "mode 0644" when group or others may read the key, else null (and null where POSIX modes do not exist). */
    static String looseKeyPermissions(Path keyFile) {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(keyFile);
            int mode = 0;
            for (PosixFilePermission p : perms) {
                mode |= 1 << (8 - p.ordinal());
            }
            return (mode & 0077) != 0 ? String.format("mode %04o", mode) : null;
        } catch (UnsupportedOperationException | IOException e) {
            return null;
        }
    }

    /** Signs a probe with the key and verifies it with the certificate's public key. */
    private static boolean matches(PrivateKey key, PublicKey pub) {
        String alg = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> null;
        };
        if (alg == null) {
            return true; // RSASSA-PSS and friends: the TLS handshake will tell
        }
        try {
            byte[] probe = "turnout key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            Signature sign = Signature.getInstance(alg);
            sign.initSign(key);
            sign.update(probe);
            byte[] sig = sign.sign();
            Signature verify = Signature.getInstance(alg);
            verify.initVerify(pub);
            verify.update(probe);
            return verify.verify(sig);
        } catch (GeneralSecurityException e) {
            return false; // e.g. an EC key against an RSA certificate
        }
    }

    /** PgBouncer's protocol list: secure (default) = TLS 1.2 + 1.3, all, legacy, or tlsv1.2/tlsv1.3 names. */
    private static List<String> protocols(YamlSection s, String key) throws ConfigException {
        List<String> out = new ArrayList<>();
        for (String part : s.string(key, "secure").toLowerCase(Locale.ROOT).split("[,\\s]+")) {
            switch (part) {
                case "" -> { }
                case "secure", "default" -> add(out, TlsSettings.SECURE_PROTOCOLS);
                case "all", "legacy" -> add(out, List.of("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1"));
                case "tlsv1.3" -> add(out, List.of("TLSv1.3"));
                case "tlsv1.2" -> add(out, List.of("TLSv1.2"));
                case "tlsv1.1" -> add(out, List.of("TLSv1.1"));
                case "tlsv1.0", "tlsv1" -> add(out, List.of("TLSv1"));
                default -> throw s.error(key, "unknown TLS protocol '" + part
                        + "' (expected secure, all, legacy, tlsv1.0, tlsv1.1, tlsv1.2, tlsv1.3)");
            }
        }
        if (out.isEmpty()) {
            throw s.error(key, "no TLS protocol left");
        }
        return List.copyOf(out);
    }

    private static void add(List<String> out, List<String> names) {
        for (String n : names) {
            if (!out.contains(n)) {
                out.add(n);
            }
        }
    }

    /** PgBouncer's keywords (default, secure, fast, normal, all) keep the engine's list; else ':'-separated names. */
    private static List<String> ciphers(YamlSection s, String key) throws ConfigException {
        String raw = s.string(key, "default").trim();
        if (List.of("default", "secure", "fast", "normal", "all", "").contains(raw.toLowerCase(Locale.ROOT))) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String part : raw.split("[:,\\s]+")) {
            if (!part.isEmpty()) {
                out.add(part);
            }
        }
        return List.copyOf(out);
    }

    private static String curve(YamlSection s) throws ConfigException {
        String raw = s.string("client_tls_ecdhcurve", "auto").trim();
        return raw.isEmpty() || raw.equalsIgnoreCase("auto") || raw.equalsIgnoreCase("none") ? null : raw;
    }
}
