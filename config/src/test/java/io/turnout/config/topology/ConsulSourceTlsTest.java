package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.ConsulConfig;
import io.turnout.config.testing.ConsulTestServer;
import io.turnout.config.testing.TestCerts;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** https:// Consul with a private CA and a required client certificate, keys in every PEM form. */
class ConsulSourceTlsTest {
    // generous: a loaded 2-core CI machine can stall TLS handshakes and threads for seconds; latency is benchmarked elsewhere
    private static final Duration SOON = Duration.ofSeconds(15);

    @TempDir
    static Path dir;
    private static TestCerts certs;
    private static ConsulTestServer consul;

    @BeforeAll
    static void pki() throws Exception {
        certs = TestCerts.generate(dir.resolve("pki"));
        consul = ConsulTestServer.startTls(null, certs, true);
        consul.patroni().cluster("a", "10.2.0.1", 5432, 1);
    }

    @AfterAll
    static void stop() {
        consul.close();
    }

    private static ClusterState firstNonUnknown(ConsulConfig config) throws Exception {
        TopologyRecorder seen = new TopologyRecorder();
        try (ConsulSource source = new ConsulSource(config)) {
            source.watch("a");
            source.start(seen);
            return seen.await(0, "a", s -> s.status() != ClusterState.Status.UNKNOWN || s.stale(), SOON)
                    .topology().cluster("a");
        }
    }

    private static ConsulConfig https() {
        assertThat(consul.url().getScheme()).isEqualTo("https");
        return ConsulConfig.of(consul.url()).withWait(Duration.ofSeconds(30));
    }

    @Test
    void clientCertificateInEachPemKeyForm() throws Exception {
        Path[][] pairs = {
            {certs.clientCert(), certs.clientKey()},        // PKCS#8 BEGIN PRIVATE KEY
            {certs.clientCert(), certs.clientKeyPkcs1()},   // PKCS#1 BEGIN RSA PRIVATE KEY
            {certs.ecClientCert(), certs.ecClientKey()},    // SEC1 BEGIN EC PRIVATE KEY
        };
        for (Path[] p : pairs) {
            ClusterState s = firstNonUnknown(https().withTls(certs.caCert(), p[0], p[1], true));
            assertThat(s.hasLeader()).as("with key %s", p[1].getFileName()).isTrue();
            assertThat(s.leader()).isEqualTo(new Endpoint("10.2.0.1", 5432));
        }
    }

    @Test
    void withoutTheClientCertificateTheServerRefuses() throws Exception {
        ClusterState s = firstNonUnknown(https().withTls(certs.caCert(), null, null, true));
        assertThat(s.stale()).isTrue();
        assertThat(s.hasLeader()).isFalse();
        assertThat(s.lastError()).isNotBlank();
    }

    @Test
    void anUnknownCaIsRejectedUnlessVerifyIsOff() throws Exception {
        ClusterState strict = firstNonUnknown(https().withTls(null, certs.clientCert(), certs.clientKey(), true));
        assertThat(strict.stale()).isTrue();
        assertThat(strict.lastError()).isNotBlank();
        ClusterState lax = firstNonUnknown(https().withTls(null, certs.clientCert(), certs.clientKey(), false));
        assertThat(lax.hasLeader()).isTrue();
    }
}
