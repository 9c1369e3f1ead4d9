package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.testing.ConsulTestServer;
import io.turnout.config.testing.TestCerts;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A consul url given with https:// is really used with TLS (the test server demands a client certificate
 * signed by its CA) and the ACL token travels in the X-Consul-Token header, never in the query string.
 */
class ConsulTlsIT {
    @TempDir
    Path dir;

    @Test
    void httpsConsulWithClientCertificateAndTokenHeader() throws Exception {
        PgServer pg = PgServer.shared();
        TestCerts certs = TestCerts.generate(dir.resolve("pki"));
        Files.writeString(dir.resolve("consul.token"), "s3cret-token\n");
        try (ConsulTestServer consul = ConsulTestServer.startTls("s3cret-token", certs, true)) {
            assertThat(consul.url().getScheme()).isEqualTo("https");
            consul.patroniMember("shard-a", "node1", pg.host(), pg.port(), "primary");
            consul.patroniLeader("shard-a", "node1");
            try (TurnoutFixture turnout = TurnoutFixture.builder(pg)
                    .set("consul", "{ url: \"" + consul.url() + "\", token_file: \"" + dir.resolve("consul.token")
                            + "\", ca_file: \"" + certs.caCert() + "\", cert_file: \"" + certs.clientCert()
                            + "\", key_file: \"" + certs.clientKey() + "\", wait: 30s }")
                    .rawDatabase("shard_a", "patroni_scope: shard-a, dbname: app, user: postgres, password: postgres")
                    .withoutDefaultDatabase()
                    .start();
                 Connection c = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "shard_a", new Properties());
                 ResultSet rs = c.createStatement().executeQuery("select inet_server_port()")) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(pg.port());
            }
            assertThat(consul.requestLog()).isNotEmpty().allSatisfy(r -> {
                assertThat(r.token()).isEqualTo("s3cret-token");
                assertThat(r.rawQuery() == null ? "" : r.rawQuery()).doesNotContain("token");
            });
        }
    }
}
