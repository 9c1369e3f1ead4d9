package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.config.testing.TestCerts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** client_tls_* / server_tls_* with PgBouncer's meanings; every bad file fails naming key, line and file. */
class TlsSectionTest {
    @TempDir
    static Path dir;
    private static TestCerts certs;

    @BeforeAll
    static void pki() throws Exception {
        certs = TestCerts.generate(dir.resolve("pki"));
    }

    private static TurnoutConfig parse(String extra) throws ConfigException {
        return ConfigLoader.parse("auth_type: trust\n" + extra
                        + "databases:\n  d: { host: localhost }\n  e: { host: localhost, server_tls_sslmode: require }\n",
                "turnout.yaml", null, dir);
    }

    private String tlsKeys(Path cert, Path key) {
        return "client_tls_sslmode: require\nclient_tls_cert_file: " + cert + "\nclient_tls_key_file: " + key + "\n";
    }

    @Test
    void defaultsArePgBouncers() throws Exception {
        TlsSettings t = parse("").tls();
        assertThat(t.clientMode()).isEqualTo(SslMode.DISABLE);
        assertThat(t.serverMode()).isEqualTo(SslMode.PREFER);
        assertThat(t.clientProtocols()).containsExactly("TLSv1.3", "TLSv1.2");
        assertThat(t.serverMode("d")).isEqualTo(SslMode.PREFER);
        assertThat(t.serverMode("e")).isEqualTo(SslMode.REQUIRE);
    }

    @Test
    void aCompleteSetup() throws Exception {
        TlsSettings t = parse(tlsKeys(certs.serverCert(), certs.serverKey())
                + "client_tls_ca_file: " + certs.caCert() + "\nclient_tls_protocols: tlsv1.3\n"
                + "server_tls_sslmode: verify-full\nserver_tls_ca_file: " + certs.caCert() + "\n"
                + "server_tls_ciphers: TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384\n").tls();
        assertThat(t.clientTls()).isTrue();
        assertThat(t.clientProtocols()).containsExactly("TLSv1.3");
        assertThat(t.serverMode("d")).isEqualTo(SslMode.VERIFY_FULL);
        assertThat(t.serverCiphers()).containsExactly("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384");
    }

    @Test
    void badValuesAndMissingFilesNameKeyAndLine() {
        assertThatThrownBy(() -> parse("client_tls_sslmode: sometimes\n"))
                .hasMessage("turnout.yaml:2: client_tls_sslmode: expected one of disable, allow, prefer, require,"
                        + " verify-ca, verify-full, got 'sometimes'");
        assertThatThrownBy(() -> parse("client_tls_sslmode: require\n"))
                .hasMessageContaining("turnout.yaml:2: client_tls_sslmode:")
                .hasMessageContaining("needs client_tls_key_file and client_tls_cert_file");
        assertThatThrownBy(() -> parse(tlsKeys(certs.serverCert(), dir.resolve("nope.pem"))))
                .hasMessageContaining("turnout.yaml:4: client_tls_key_file: file " + dir.resolve("nope.pem") + " does not exist");
        assertThatThrownBy(() -> parse(tlsKeys(certs.serverCert(), certs.serverKey())
                        + "client_tls_sslmode: verify-ca\n"))
                .hasMessageContaining("duplicate key");
        assertThatThrownBy(() -> parse("server_tls_sslmode: verify-full\n"))
                .hasMessageContaining("server_tls_ca_file: server_tls_sslmode verify-ca/verify-full needs server_tls_ca_file");
        assertThatThrownBy(() -> parse("client_channel_binding: require\n"))
                .hasMessageContaining("turnout.yaml:2: client_channel_binding: client_channel_binding require needs"
                        + " client_tls_sslmode require or stricter");
        assertThatThrownBy(() -> parse("server_tls_sslmode: prefer\nserver_channel_binding: require\n"))
                .hasMessageContaining("server_channel_binding require needs server_tls_sslmode require or stricter,"
                        + " for every database");
        assertThatThrownBy(() -> parse("server_channel_binding: always\n"))
                .hasMessageContaining("expected one of disable, prefer, require, got 'always'");
        assertThatThrownBy(() -> parse("client_tls_protocols: sslv3\n"))
                .hasMessageContaining("turnout.yaml:2: client_tls_protocols: unknown TLS protocol 'sslv3'");
    }

    @Test
    void aKeyThatIsNotTheCertificatesIsRefused() {
        assertThatThrownBy(() -> parse(tlsKeys(certs.serverCert(), certs.clientKey())))
                .hasMessageContaining("turnout.yaml:4: client_tls_key_file: private key " + certs.clientKey()
                        + " does not match the certificate in " + certs.serverCert());
    }

    @Test
    void anExpiredCertificateIsRefused() throws Exception {
        Path old = certs.issue(dir.resolve("old"), "old", "/CN=localhost", "extendedKeyUsage=serverAuth\n", -1);
        assertThatThrownBy(() -> parse(tlsKeys(old, TestCerts.keyOf(old))))
                .hasMessageContaining("turnout.yaml:3: client_tls_cert_file: certificate " + old)
                .hasMessageContaining("expired on");
    }

    @Test
    void aKeyReadableByOthersIsRefused() throws Exception {
        Path cert = certs.issue(dir.resolve("loose"), "loose", "/CN=localhost", "extendedKeyUsage=serverAuth\n", 2);
        Path key = TestCerts.keyOf(cert);
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> parse(tlsKeys(cert, key)))
                .hasMessageContaining("client_tls_key_file: private key " + key
                        + " is readable by group or others (mode 0644); it must be 0600: chmod 600 " + key);
        Files.writeString(cert, "garbage");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> parse(tlsKeys(cert, key)))
                .hasMessageContaining("client_tls_cert_file: cannot load certificate " + cert);
    }
}
