package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.config.Pem;
import io.turnout.config.Transport;
import io.turnout.config.testing.TestCerts;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.RawClient;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TLS on both sides with PgBouncer's keys, against a PostgreSQL that has ssl = on and hostssl-only pg_hba:
 * real clients (psql, pgjdbc, psycopg 3, asyncpg, pgbench) in transaction mode, and the refusals as each
 * client sees them, with a client running alongside that must not notice.
 */
class TlsIT {
    static final Path PYTHON = Path.of("/usr/bin/python3");
    static Path dir;
    static TestCerts certs;
    static PgServer pg;
    /** client_tls_sslmode require, server_tls_sslmode verify-full. */
    static TurnoutFixture tls;
    /** tls's client side on epoll (auto is io_uring), so the refusal below runs on both transports. */
    static TurnoutFixture tlsEpoll;
    /** client_tls_sslmode verify-full with auth_type cert, a certificate for another host name, 2 s login timeout. */
    static TurnoutFixture certAuth;
    static Path otherHostCert;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("turnout-tls-it-");
        certs = TestCerts.generate(dir.resolve("pki"));
        otherHostCert = certs.issue(dir.resolve("pki"), "elsewhere", "/CN=elsewhere.test",
                "subjectAltName=DNS:elsewhere.test\nextendedKeyUsage=serverAuth\n", 2);
        pg = PgServer.start();
        pg.requireTls(certs.serverCert(), certs.serverKey());
        tls = TurnoutFixture.builder(pg)
                .set("client_tls_sslmode", "require")
                .set("client_tls_cert_file", certs.serverCert())
                .set("client_tls_key_file", certs.serverKey())
                .set("server_tls_sslmode", "verify-full")
                .set("server_tls_ca_file", certs.caCert())
                .set("admin_users", "alice")
                .set("metrics_port", "0")
                .set("transport", "io_uring") // the default, said here so -Dturnout.it.transport leaves it
                .database("plain_to_server", "dbname: app, user: postgres, password: postgres, server_tls_sslmode: disable")
                // "vm" is 127.0.0.1 in /etc/hosts but not a name in PostgreSQL's certificate
                .rawDatabase("wrong_host", "host: vm, port: " + pg.port() + ", dbname: app, user: postgres, password: postgres")
                .start();
        tlsEpoll = TurnoutFixture.builder(pg)
                .set("client_tls_sslmode", "require")
                .set("client_tls_cert_file", certs.serverCert())
                .set("client_tls_key_file", certs.serverKey())
                .set("transport", "epoll")
                .start();
        certAuth = TurnoutFixture.builder(pg)
                .set("auth_type", "cert")
                .set("client_tls_sslmode", "verify-full")
                .set("client_tls_cert_file", otherHostCert)
                .set("client_tls_key_file", TestCerts.keyOf(otherHostCert))
                .set("client_tls_ca_file", certs.caCert())
                .set("client_login_timeout", "2")
                .set("proxy_protocol", "true")
                .set("proxy_protocol_trusted", "[127.0.0.1/32]")
                .set("server_tls_sslmode", "require")
                .database("app", "dbname: app, user: postgres, password: postgres")
                .start();
    }

    @AfterAll
    static void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {tls, tlsEpoll, certAuth, pg}) {
            if (c != null) {
                c.close();
            }
        }
    }

    static String libpq(TurnoutFixture t, String extra) {
        return "host=127.0.0.1 port=" + t.port() + " dbname=app user=alice password=alice_pw connect_timeout=10 " + extra;
    }

    static Processes.Result psql(String conninfo, String sql) {
        return Processes.run(Duration.ofSeconds(60), List.of("psql", "-X", "-A", "-t", "-c", sql, conninfo),
                PgServer.clientEnv(), null, null);
    }

    /** Whether the server connection this query runs on uses TLS, as PostgreSQL sees it. */
    private static final String SERVER_SSL = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";

    @Test
    void psqlVerifyFullThroughTurnoutAndTlsToPostgres() {
        Processes.Result r = psql(libpq(tls, "sslmode=verify-full sslrootcert=" + certs.caCert()),
                SERVER_SSL + "; select 'tls=' || (select count(*) from pg_stat_ssl where ssl)");
        assertThat(r.ok()).as(r.stderr()).isTrue();
        assertThat(r.stdout().strip().lines().findFirst()).hasValue("t");
    }

    /**
     * SCRAM-SHA-256-PLUS both ways: psql insists on channel binding to Turnout's certificate, and Turnout's
     * logins to PostgreSQL (SCRAM over hostssl, which offers -PLUS) bind to PostgreSQL's.
     */
    @Test
    void channelBindingRequiredByPsql() {
        Processes.Result r = psql(libpq(tls, "sslmode=verify-full sslrootcert=" + certs.caCert()
                + " channel_binding=require"), "select current_user");
        assertThat(r.ok()).as(r.stderr()).isTrue();
        assertThat(r.stdout().strip()).isEqualTo("postgres");
        r = psql(libpq(tls, "sslmode=require channel_binding=require password=wrong"), "select 1");
        assertThat(r.stderr()).contains("password authentication failed for user \"alice\"");
    }

    @Test
    void pgjdbcVerifyFull() throws Exception {
        Properties p = new Properties();
        p.setProperty("ssl", "true");
        p.setProperty("channelBinding", "require");
        p.setProperty("sslmode", "verify-full");
        p.setProperty("sslrootcert", certs.caCert().toString());
        try (Connection c = tls.connect(p); ResultSet rs = c.createStatement().executeQuery(SERVER_SSL)) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getBoolean(1)).isTrue();
        }
    }

    @Test
    void psycopgRequireAndAsyncpgWithAnSslContext() {
        String psycopg = "import psycopg\n"
                + "with psycopg.connect('" + libpq(tls, "sslmode=require") + "', prepare_threshold=0) as c:\n"
                + "    for i in range(20):\n"
                + "        assert c.execute('select %s::int + 1', (i,)).fetchone()[0] == i + 1\n"
                + "    print(c.pgconn.ssl_in_use)\n";
        Processes.Result r = Processes.run(Duration.ofSeconds(60), List.of(PYTHON.toString(), "-c", psycopg));
        assertThat(r.ok()).as(r.stderr()).isTrue();
        assertThat(r.stdout().strip()).isEqualTo("True");
        String asyncpg = "import asyncio, ssl, asyncpg\n"
                + "async def main():\n"
                + "    ctx = ssl.create_default_context(cafile='" + certs.caCert() + "')\n"
                + "    c = await asyncpg.connect(host='127.0.0.1', port=" + tls.port() + ", user='alice',"
                + " password='alice_pw', database='app', ssl=ctx, statement_cache_size=0)\n"
                + "    for i in range(20):\n"
                + "        assert await c.fetchval('select $1::int + 1', i) == i + 1\n"
                + "    print(await c.fetchval(\"" + SERVER_SSL + "\"))\n"
                + "    await c.close()\n"
                + "asyncio.run(main())\n";
        r = Processes.run(Duration.ofSeconds(60), List.of(PYTHON.toString(), "-c", asyncpg));
        assertThat(r.ok()).as(r.stderr()).isTrue();
        assertThat(r.stdout().strip()).isEqualTo("True");
    }

    @Test
    void pgbenchRequire() throws Exception {
        Path script = dir.resolve("select.sql");
        Files.writeString(script, "select 1;\n");
        Map<String, String> env = PgServer.clientEnv();
        env.put("PGSSLMODE", "require");
        env.put("PGPASSWORD", "alice_pw");
        Processes.Result r = Processes.run(Duration.ofSeconds(120), List.of("pgbench", "-n", "-c", "4", "-j", "2",
                "-t", "200", "-f", script.toString(), "-h", "127.0.0.1", "-p", String.valueOf(tls.port()),
                "-U", "alice", "app"), env, null, null);
        assertThat(r.ok()).as(r.stderr() + r.stdout()).isTrue();
        assertThat(r.stdout()).contains("number of transactions actually processed: 800/800");
        assertThat(r.stdout()).contains("number of failed transactions: 0");
    }

    @Test
    void clientCertificateIsTheUserName() {
        String cert = "sslmode=verify-ca sslrootcert=" + certs.caCert() + " sslcert=" + certs.clientCert()
                + " sslkey=" + certs.clientKey();
        Processes.Result r = psql("host=127.0.0.1 port=" + certAuth.port() + " dbname=app user=turnout " + cert,
                "select current_user");
        assertThat(r.ok()).as(r.stderr()).isTrue();
        assertThat(r.stdout().strip()).isEqualTo("postgres"); // the database's server login
        r = psql("host=127.0.0.1 port=" + certAuth.port() + " dbname=app user=alice " + cert, "select 1");
        assertThat(r.ok()).isFalse();
        assertThat(r.stderr()).contains("certificate authentication failed for user \"alice\"");
        r = psql("host=127.0.0.1 port=" + certAuth.port() + " dbname=app user=turnout sslmode=verify-ca sslrootcert="
                + certs.caCert(), "select 1");
        assertThat(r.ok()).isFalse();
        assertThat(r.stderr()).containsIgnoringCase("certificate");
    }

    @Test
    void refusalsAsClientsSeeThemWhileAnotherClientCarriesOn() throws Exception {
        Properties p = new Properties();
        p.setProperty("sslmode", "require");
        try (Connection bystander = tls.connect(p)) {
            bystander.setAutoCommit(false);
            bystander.createStatement().execute("select 1");

            Processes.Result r = psql(libpq(tls, "sslmode=disable"), "select 1");
            assertThat(r.stderr()).contains("SSL required: this server accepts only encrypted connections"
                    + " (client_tls_sslmode require)");
            r = psql("host=127.0.0.1 port=" + certAuth.port() + " dbname=app user=turnout sslmode=verify-full"
                    + " sslrootcert=" + certs.caCert(), "select 1");
            assertThat(r.stderr()).contains("server certificate for \"elsewhere.test\" (and 1 other name) does not match host name \"127.0.0.1\"");
            Path expired = certs.issue(dir.resolve("pki"), "expired-client", "/CN=turnout",
                    "extendedKeyUsage=clientAuth\n", -1);
            r = psql("host=127.0.0.1 port=" + certAuth.port() + " dbname=app user=turnout sslmode=verify-ca sslrootcert="
                    + certs.caCert() + " sslcert=" + expired + " sslkey=" + TestCerts.keyOf(expired), "select 1");
            assertThat(r.stderr()).contains("certificate expired");
            TestCerts strangers = TestCerts.generate(dir.resolve("other-pki"));
            r = psql(libpq(tls, "sslmode=verify-ca sslrootcert=" + strangers.caCert()), "select 1");
            assertThat(r.stderr()).contains("certificate verify failed");
            // garbage where the ClientHello belongs: closed, nothing else (on io_uring Netty lost this close until
            // ShutdownInputOnCloseHandler)
            assertThat(tls.server().transport()).isEqualTo(Transport.IO_URING);
            assertThat(tlsEpoll.server().transport()).isEqualTo(Transport.EPOLL);
            for (TurnoutFixture t : List.of(tls, tlsEpoll)) {
                try (RawClient raw = new RawClient(t.port())) {
                    raw.send(RawClient.negotiation(80877103));
                    assertThat(raw.readByte()).isEqualTo('S');
                    raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    assertThat(raw.closedByServer()).as("closed by Turnout on %s", t.server().transport()).isTrue();
                }
            }
            // a handshake that never starts is cut at client_login_timeout (2 s)
            try (RawClient raw = new RawClient(certAuth.port())) {
                raw.setTimeoutMillis(30_000);
                raw.send(RawClient.negotiation(80877103));
                assertThat(raw.readByte()).isEqualTo('S');
                long t0 = System.nanoTime();
                assertThat(raw.closedByServer()).isTrue();
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
            }
            // a database that overrides server_tls_sslmode to disable meets PostgreSQL's hostssl-only pg_hba
            assertThatThrownBy(() -> tls.connect("alice", "alice_pw", "plain_to_server", p).close())
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getMessage()).contains("no encryption"));

            // verify-full towards PostgreSQL checks the name dialled
            assertThatThrownBy(() -> tls.connect("alice", "alice_pw", "wrong_host", p).close())
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getMessage())
                            .contains("TLS handshake with server vm:" + pg.port() + " failed (server_tls_sslmode verify-full)"));

            ResultSet rs = bystander.createStatement().executeQuery("select 2");
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(2);
            bystander.commit();
        }
    }

    /** Issue 19: what PostgreSQL does with a second negotiation request, byte for byte. */
    @Test
    void repeatedNegotiationIsRefusedAsPostgresDoes() throws Exception {
        try (RawClient raw = new RawClient(tls.port())) {
            // a second SSLRequest sent before the first was answered: unencrypted data after the SSL request
            raw.send(RawClient.cat(RawClient.negotiation(80877103), RawClient.negotiation(80877103)));
            assertThat(raw.readByte()).isEqualTo('N');
            RawClient.Message e = raw.read();
            assertThat(e.type()).isEqualTo('E');
            assertThat(e.field('C')).isEqualTo("08P01");
            assertThat(e.field('M')).isEqualTo("received unencrypted data after SSL request");
            assertThat(raw.closedByServer()).isTrue();
        }
        try (RawClient raw = new RawClient(tls.port())) {
            // GSSENCRequest is declined; asking again after the answer is an unknown protocol version
            raw.send(RawClient.negotiation(80877104));
            assertThat(raw.readByte()).isEqualTo('N');
            raw.send(RawClient.negotiation(80877104));
            RawClient.Message e = raw.read();
            assertThat(e.field('C')).isEqualTo("0A000");
            assertThat(e.field('M')).isEqualTo("unsupported frontend protocol 1234.5680: server supports 3.0 to 3.0");
        }
    }

    /** A CancelRequest sent over TLS (as newer libpq does) reaches the query it names. */
    @Test
    void cancelRequestAfterSslRequest() throws Exception {
        SSLContext client = Pem.sslContext(certs.caCert(), certs.clientCert(), certs.clientKey(), true);
        try (RawClient session = new RawClient(certAuth.port())) {
            session.send(RawClient.negotiation(80877103));
            assertThat(session.readByte()).isEqualTo('S');
            session.startTls(client);
            session.send(RawClient.startup("user", "turnout", "database", "app"));
            int pid = 0;
            int key = 0;
            while (true) {
                RawClient.Message m = session.read();
                assertThat(m.type()).isNotEqualTo('E');
                if (m.type() == 'K') {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(m.body());
                    pid = b.getInt();
                    key = b.getInt();
                }
                if (m.type() == 'Z') {
                    break;
                }
            }
            session.send(RawClient.query("select pg_sleep(30)"));
            Thread.sleep(300); // let the query reach PostgreSQL; a cancel that comes too early is just retried below
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            String state = null;
            session.setTimeoutMillis(1000);
            while (state == null && System.nanoTime() < deadline) {
                try (RawClient cancel = new RawClient(certAuth.port())) {
                    cancel.send(RawClient.negotiation(80877103));
                    assertThat(cancel.readByte()).isEqualTo('S');
                    cancel.startTls(client);
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16).putInt(16).putInt(80877102).putInt(pid).putInt(key);
                    cancel.send(b.array());
                    assertThat(cancel.closedByServer()).isTrue();
                }
                try {
                    state = session.readUntilReady();
                } catch (java.net.SocketTimeoutException e) {
                    // not cancelled yet
                }
            }
            assertThat(state).isEqualTo("57014");
        }
    }

    /** SHOW CLIENTS / SHOW SERVERS tls column, SHOW CONFIG's engine, the handshake counter. */
    @Test
    void visibility() throws Exception {
        Properties p = new Properties();
        p.setProperty("sslmode", "require");
        Properties simple = new Properties(p);
        simple.putAll(p);
        simple.setProperty("preferQueryMode", "simple"); // the admin console speaks only the simple protocol
        try (Connection app = tls.connect(p); Connection admin = tls.connect("alice", "alice_pw", "pgbouncer", simple)) {
            app.setAutoCommit(false);
            app.createStatement().execute("select 1"); // holds its server
            java.util.Set<String> clientTls = new java.util.HashSet<>();
            try (ResultSet rs = admin.createStatement().executeQuery("SHOW CLIENTS")) {
                while (rs.next()) {
                    clientTls.add(rs.getString("tls"));
                }
            }
            assertThat(clientTls).isNotEmpty().allSatisfy(t -> assertThat(t).matches("TLSv1\\.[23]/\\w+"));
            java.util.Set<String> serverTls = new java.util.HashSet<>();
            try (ResultSet rs = admin.createStatement().executeQuery("SHOW SERVERS")) {
                while (rs.next()) {
                    serverTls.add(rs.getString("tls"));
                }
            }
            // towards PostgreSQL the peer certificate is the server's
            assertThat(serverTls).isNotEmpty().allSatisfy(t -> assertThat(t).matches("TLSv1\\.[23]/\\w+/CN=localhost"));
            String engine = null;
            try (ResultSet rs = admin.createStatement().executeQuery("SHOW CONFIG")) {
                while (rs.next()) {
                    if (rs.getString("key").equals("tls_engine")) {
                        engine = rs.getString("value");
                    }
                }
            }
            assertThat(engine).isEqualTo(io.turnout.proxy.tls.TlsContexts.engine()).isNotEmpty();
            app.commit();
        }
        java.net.http.HttpResponse<String> metrics = java.net.http.HttpClient.newHttpClient().send(
                java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + tls.server().httpPort()
                        + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.body()).containsPattern("turnout_tls_handshakes_total\\{result=\"ok\",side=\"client\"} [1-9]")
                .containsPattern("turnout_tls_handshakes_total\\{result=\"ok\",side=\"server\"} [1-9]");
    }

    /** PostgreSQL 17's sslnegotiation=direct: a ClientHello first, served only with ALPN "postgresql". */
    @Test
    void directTlsNeedsAlpnPostgresql() throws Exception {
        SSLContext client = Pem.sslContext(certs.caCert(), certs.clientCert(), certs.clientKey(), true);
        for (boolean alpn : new boolean[] {true, false}) {
            try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) client.getSocketFactory()
                    .createSocket("127.0.0.1", certAuth.port())) {
                s.setSoTimeout(10_000);
                if (alpn) {
                    javax.net.ssl.SSLParameters p = s.getSSLParameters();
                    p.setApplicationProtocols(new String[] {"postgresql"});
                    s.setSSLParameters(p);
                }
                s.startHandshake();
                s.getOutputStream().write(RawClient.startup("user", "turnout", "database", "app"));
                java.io.DataInputStream in = new java.io.DataInputStream(s.getInputStream());
                int type = in.read();
                byte[] body = new byte[in.readInt() - 4];
                in.readFully(body);
                RawClient.Message first = new RawClient.Message((char) type, body);
                if (alpn) {
                    assertThat(s.getApplicationProtocol()).isEqualTo("postgresql");
                    assertThat(first.type()).isEqualTo('R'); // AuthenticationOk: the certificate was the login
                } else {
                    assertThat(first.type()).isEqualTo('E');
                    assertThat(first.field('C')).isEqualTo("08P01");
                    assertThat(first.field('M')).isEqualTo(
                            "received direct SSL connection request without ALPN protocol negotiation extension");
                }
            }
        }
    }

    /** The PROXY header comes first, then the SSLRequest; the session logs in over TLS behind it. */
    @Test
    void proxyHeaderBeforeSslRequest() throws Exception {
        SSLContext client = Pem.sslContext(certs.caCert(), certs.clientCert(), certs.clientKey(), true);
        try (RawClient raw = new RawClient(certAuth.port())) {
            raw.send(RawClient.cat("PROXY TCP4 10.9.8.7 127.0.0.1 40000 6432\r\n".getBytes(
                    java.nio.charset.StandardCharsets.US_ASCII), RawClient.negotiation(80877103)));
            assertThat(raw.readByte()).isEqualTo('S');
            raw.startTls(client);
            raw.send(RawClient.startup("user", "turnout", "database", "app"));
            assertThat(raw.readUntilReady()).isNull();
            raw.send(RawClient.query("select 1"));
            assertThat(raw.readUntilReady()).isNull();
        }
    }

}
