package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.ConfigLoader;
import io.turnout.config.PgBouncerIniImporter;
import io.turnout.config.TurnoutConfig;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The seed deployment's pgbouncer.ini, imported, is a configuration Turnout starts with: it listens, and
 * its admin console lists the twelve shards the ini had.
 */
class ImportedConfigIT {
    @TempDir
    Path dir;

    @Test
    void theImportedSeedConfigStarts() throws Exception {
        for (String f : List.of("pgbouncer.ini", "pgbouncer-local.ini", "userlist.txt")) {
            try (InputStream in = getClass().getResourceAsStream("/pgbouncer/" + f)) {
                assertThat(in).as(f).isNotNull();
                Files.copy(in, dir.resolve(f));
            }
        }
        PgBouncerIniImporter.Result r = PgBouncerIniImporter.importFile(dir.resolve("pgbouncer.ini"),
                dir.resolve("userlist.txt"));
        // the seed's TLS files live on its PgBouncer hosts: this test's own stand in for them
        io.turnout.config.testing.TestCerts pki = io.turnout.config.testing.TestCerts.generate(dir.resolve("tls"));
        String text = r.yaml().replace("/etc/pgbouncer/tls/pgbouncer.key", pki.serverKey().toString())
                .replace("/etc/pgbouncer/tls/pgbouncer.crt", pki.serverCert().toString());
        Path yaml = dir.resolve("turnout.yaml");
        Files.writeString(yaml, text);
        // the seed listens on *:6432; a test takes a free port on loopback instead, as SET would
        TurnoutConfig config = ConfigLoader.parse(text, yaml.toString(), yaml, dir,
                Map.of("listen_addr", "127.0.0.1", "listen_port", "0"));
        try (TurnoutServer server = TurnoutServer.start(config)) {
            assertThat(server.port()).isPositive();
            Properties p = new Properties();
            p.setProperty("user", "ops");
            p.setProperty("password", "opspassword");
            p.setProperty("preferQueryMode", "simple");
            p.setProperty("sslmode", "require"); // client_tls_sslmode = require came over
            List<String> names = new ArrayList<>();
            try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + server.port()
                    + "/pgbouncer", p); ResultSet rs = c.createStatement().executeQuery("SHOW DATABASES")) {
                while (rs.next()) {
                    names.add(rs.getString("name"));
                }
            }
            assertThat(names).contains("shard_01", "shard_12", "reporting", "legacy");
        }
    }
}
