package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.config.Pem;
import io.turnout.config.testing.TestCerts;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.RawClient;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Certificate rotation: RELOAD re-reads TLS files for new handshakes while clients keep running. */
class TlsRotationIT {
    static Path dir;
    static TestCerts certs;
    static PgServer pg;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("turnout-tls-rotation-it-");
        certs = TestCerts.generate(dir.resolve("pki"));
        pg = PgServer.start();
        pg.requireTls(certs.serverCert(), certs.serverKey());
    }

    @AfterAll
    static void stop() {
        if (pg != null) {
            pg.close();
        }
    }

    /**
     * RELOAD re-reads the certificate and key while pgbench runs: nobody is dropped, new handshakes get the
     * new certificate, and a file that does not load is refused like any invalid configuration.
     */
    @Test
    void rotationUnderLoad() throws Exception {
        Path rot = Files.createDirectories(dir.resolve("rotation"));
        Path cert = rot.resolve("cert.pem");
        Path key = rot.resolve("key.pem");
        Files.copy(certs.serverCert(), cert);
        Files.copy(certs.serverKey(), key);
        try (TurnoutFixture t = TurnoutFixture.builder(pg)
                .set("client_tls_sslmode", "require")
                .set("client_tls_cert_file", cert)
                .set("client_tls_key_file", key)
                .set("server_tls_sslmode", "require")
                .set("client_channel_binding", "require")
                .set("server_channel_binding", "require")
                .start()) {
            assertThat(servedSerial(t.port())).isEqualTo(TestCerts.serial(certs.serverCert()));
            Path script = dir.resolve("rotation.sql");
            Files.writeString(script, "select 1;\n");
            Map<String, String> env = PgServer.clientEnv();
            env.put("PGSSLMODE", "require");
            env.put("PGPASSWORD", "alice_pw");
            ProcessBuilder pb = new ProcessBuilder("pgbench", "-n", "-c", "4", "-j", "2", "-T", "6", "-f",
                    script.toString(), "-h", "127.0.0.1", "-p", String.valueOf(t.port()), "-U", "alice", "app")
                    .redirectErrorStream(true).redirectOutput(rot.resolve("pgbench.out").toFile());
            pb.environment().putAll(env);
            pb.environment().values().removeIf(java.util.Objects::isNull);
            Process bench = pb.start();
            try {
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (t.server().clientCount().get() < 4 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(t.server().clientCount().get()).isGreaterThanOrEqualTo(4);
                Path next = certs.issue(rot, "next", "/CN=localhost",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n", 2);
                Files.copy(TestCerts.keyOf(next), key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                Files.copy(next, cert, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                t.server().reload();
                assertThat(servedSerial(t.port())).isEqualTo(TestCerts.serial(next));
                Files.writeString(cert, "not a certificate");
                assertThatThrownBy(() -> t.server().reload()).isInstanceOf(io.turnout.config.ConfigException.class)
                        .hasMessageContaining("client_tls_cert_file: cannot load certificate " + cert);
                assertThat(servedSerial(t.port())).isEqualTo(TestCerts.serial(next));
                assertThat(bench.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            } finally {
                bench.destroy();
            }
            String out = Files.readString(rot.resolve("pgbench.out"));
            assertThat(bench.exitValue()).as(out).isZero();
            assertThat(out).contains("number of failed transactions: 0");
            // client_channel_binding require: SCRAM-SHA-256-PLUS is the only mechanism on offer
            Processes.Result r = TlsIT.psql(TlsIT.libpq(t, "sslmode=require channel_binding=disable"), "select 1");
            assertThat(r.ok()).isFalse();
            assertThat(r.stderr()).contains("none of the server's SASL authentication mechanisms are supported");
        }
    }

    /** The serial of the certificate a new TLS handshake gets. */
    private static java.math.BigInteger servedSerial(int port) throws Exception {
        SSLContext any = Pem.sslContext(null, null, null, false);
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(RawClient.negotiation(80877103));
            assertThat(s.getInputStream().read()).isEqualTo('S');
            try (javax.net.ssl.SSLSocket tlsSocket = (javax.net.ssl.SSLSocket) any.getSocketFactory()
                    .createSocket(s, "127.0.0.1", port, true)) {
                tlsSocket.startHandshake();
                return ((java.security.cert.X509Certificate) tlsSocket.getSession().getPeerCertificates()[0])
                        .getSerialNumber();
            }
        }
    }
}
