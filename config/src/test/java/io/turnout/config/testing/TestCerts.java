package io.turnout.config.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A throwaway PKI made with the openssl command line, as operators make theirs: a CA, a server
 * certificate for 127.0.0.1 and localhost, and client certificates whose keys come in the three PEM
 * forms Turnout reads (PKCS#8, PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY").
 */
public record TestCerts(Path caCert, Path caKey, Path serverCert, Path serverKey,
        Path clientCert, Path clientKey, Path clientKeyPkcs1, Path ecClientCert, Path ecClientKey) {

    public static TestCerts generate(Path dir) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        TestCerts c = new TestCerts(dir.resolve("ca.pem"), dir.resolve("ca-key.pem"), dir.resolve("server.pem"),
                dir.resolve("server-key.pem"), dir.resolve("client.pem"), dir.resolve("client-key.pem"),
                dir.resolve("client-key-rsa.pem"), dir.resolve("client-ec.pem"), dir.resolve("client-ec-key.pem"));
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=turnout-test-ca",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", c.caKey.toString(), "-out", c.caCert.toString());
        sign(c, dir, "server", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
                c.serverKey, c.serverCert, "rsa");
        sign(c, dir, "client", "/CN=turnout", "extendedKeyUsage=clientAuth\n", c.clientKey, c.clientCert, "rsa");
        openssl(dir, "rsa", "-in", c.clientKey.toString(), "-traditional", "-out", c.clientKeyPkcs1.toString());
        sign(c, dir, "client-ec", "/CN=turnout-ec", "extendedKeyUsage=clientAuth\n", c.ecClientKey, c.ecClientCert, "ec");
        for (Path k : List.of(c.caKey, c.serverKey, c.clientKey, c.clientKeyPkcs1, c.ecClientKey)) {
            ownerOnly(k);
        }
        return c;
    }

    /**
     * One more RSA certificate from this CA, as {@code dir/name.pem} and {@code dir/name-key.pem} (0600):
     * {@code days < 0} makes one that has already expired. Returns the certificate; the key sits beside it.
     */
    public Path issue(Path dir, String name, String subject, String ext, int days) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path cert = dir.resolve(name + ".pem");
        Path key = keyOf(cert);
        sign(this, dir, name, subject, ext, key, cert, "rsa", days);
        ownerOnly(key);
        return cert;
    }

    /** The key file {@link #issue} wrote beside a certificate. */
    public static Path keyOf(Path cert) {
        return cert.resolveSibling(cert.getFileName().toString().replace(".pem", "-key.pem"));
    }

    /** The certificate's serial number in hex, as {@code openssl x509 -serial} prints it. */
    public static java.math.BigInteger serial(Path cert) throws Exception {
        try (var in = Files.newInputStream(cert)) {
            return ((java.security.cert.X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
                    .generateCertificate(in)).getSerialNumber();
        }
    }

    private static void ownerOnly(Path key) throws IOException {
        Files.setPosixFilePermissions(key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }

    private static void sign(TestCerts c, Path dir, String name, String subject, String ext, Path key, Path cert, String kind)
            throws IOException, InterruptedException {
        sign(c, dir, name, subject, ext, key, cert, kind, 2);
    }

    private static void sign(TestCerts c, Path dir, String name, String subject, String ext, Path key, Path cert, String kind,
                             int days) throws IOException, InterruptedException {
        Path csr = dir.resolve(name + ".csr");
        Path extFile = dir.resolve(name + ".ext");
        Files.writeString(extFile, ext, StandardCharsets.US_ASCII);
        if (kind.equals("ec")) {
            // ecparam -genkey writes SEC1 ("BEGIN EC PRIVATE KEY"), the form to test
            openssl(dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key.toString());
            openssl(dir, "req", "-new", "-key", key.toString(), "-subj", subject, "-out", csr.toString());
        } else {
            openssl(dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                    "-keyout", key.toString(), "-out", csr.toString());
        }
        openssl(dir, "x509", "-req", "-in", csr.toString(), "-CA", c.caCert.toString(), "-CAkey", c.caKey.toString(),
                "-set_serial", Long.toString(System.nanoTime() & Long.MAX_VALUE), "-days", Integer.toString(days),
                "-extfile", extFile.toString(), "-out", cert.toString());
    }

    private static void openssl(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed:\n" + out);
        }
    }
}
