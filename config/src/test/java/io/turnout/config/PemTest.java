package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.config.testing.TestCerts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Signature;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemTest {
    @TempDir
    static Path dir;
    private static TestCerts certs;

    @BeforeAll
    static void pki() throws Exception {
        certs = TestCerts.generate(dir.resolve("pki"));
    }

    @Test
    void everyKeyFormMatchesItsCertificate() throws Exception {
        assertThat(Files.readString(certs.clientKey())).contains("BEGIN PRIVATE KEY");
        assertThat(Files.readString(certs.clientKeyPkcs1())).contains("BEGIN RSA PRIVATE KEY");
        assertThat(Files.readString(certs.ecClientKey())).contains("BEGIN EC PRIVATE KEY");
        signs(certs.clientKey(), certs.clientCert(), "SHA256withRSA");
        signs(certs.clientKeyPkcs1(), certs.clientCert(), "SHA256withRSA");
        signs(certs.ecClientKey(), certs.ecClientCert(), "SHA256withECDSA");
        assertThat(Pem.certificates(certs.caCert())).hasSize(1);
    }

    private static void signs(Path key, Path cert, String alg) throws Exception {
        Signature s = Signature.getInstance(alg);
        s.initSign(Pem.privateKey(key));
        s.update(new byte[] {1, 2, 3});
        byte[] sig = s.sign();
        Signature v = Signature.getInstance(alg);
        v.initVerify(Pem.certificates(cert).get(0));
        v.update(new byte[] {1, 2, 3});
        assertThat(v.verify(sig)).as("key %s matches %s", key.getFileName(), cert.getFileName()).isTrue();
    }

    @Test
    void unusableFilesSayWhy() throws Exception {
        Path enc = dir.resolve("enc.pem");
        Files.writeString(enc, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
        assertThatThrownBy(() -> Pem.privateKey(enc)).hasMessageContaining("encrypted private keys are not supported");
        Path legacy = dir.resolve("legacy.pem");
        Files.writeString(legacy, "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        assertThatThrownBy(() -> Pem.privateKey(legacy)).hasMessageContaining("encrypted private keys are not supported");
        assertThatThrownBy(() -> Pem.privateKey(certs.clientCert())).hasMessageContaining("no -----BEGIN PRIVATE KEY-----");
        assertThatThrownBy(() -> Pem.certificates(certs.clientKey())).hasMessageContaining("no -----BEGIN CERTIFICATE-----");
    }
}
