package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.RawClient;
import io.turnout.proxy.testing.TurnoutFixture;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The startup phase and simple-protocol corners, driven byte by byte. */
class StartupAndProtocolIT {
    static PgServer pg;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        turnout = TurnoutFixture.builder(pg).set("auth_type", "trust").start();
    }

    @AfterAll
    static void stop() {
        turnout.close();
    }

    private static byte[] code(int length, int code) {
        return new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8), (byte) length,
            (byte) (code >>> 24), (byte) (code >>> 16), (byte) (code >>> 8), (byte) code};
    }

    @Test
    void sslAndGssEncRequestsAreRefusedWithNThenLoginProceeds() throws Exception {
        try (RawClient raw = new RawClient(turnout.port())) {
            raw.send(code(8, 80877103));
            assertThat(raw.readByte()).isEqualTo('N');
            raw.send(code(8, 80877104));
            assertThat(raw.readByte()).isEqualTo('N');
            raw.send(RawClient.startup("user", "alice", "database", "app"));
            assertThat(raw.readUntilReady()).isNull();
        }
    }

    @Test
    void newerMinorVersionAndProtocolOptionsAreNegotiatedDown() throws Exception {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(body);
        d.writeInt(196610); // 3.2
        for (String s : new String[] {"user", "alice", "database", "app", "_pq_.wanted_feature", "on"}) {
            d.write(s.getBytes(StandardCharsets.UTF_8));
            d.write(0);
        }
        d.write(0);
        ByteArrayOutputStream packet = new ByteArrayOutputStream();
        new DataOutputStream(packet).writeInt(body.size() + 4);
        packet.writeBytes(body.toByteArray());
        try (RawClient raw = new RawClient(turnout.port())) {
            raw.send(packet.toByteArray());
            RawClient.Message m = raw.read();
            assertThat(m.type()).isEqualTo('v');
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(m.body());
            assertThat(b.getInt()).as("newest minor version supported").isZero();
            assertThat(b.getInt()).as("options not recognized").isEqualTo(1);
            assertThat(new String(m.body(), 8, m.body().length - 9, StandardCharsets.UTF_8)).isEqualTo("_pq_.wanted_feature");
            assertThat(raw.readUntilReady()).isNull();
            raw.send(RawClient.query("select 1"));
            assertThat(raw.readUntilReady()).isNull();
        }
    }

    @Test
    void multiStatementQueriesAndTransactionsOpenedInside() throws Exception {
        try (RawClient raw = new RawClient(turnout.port())) {
            raw.send(RawClient.startup("user", "alice", "database", "app"));
            assertThat(raw.readUntilReady()).isNull();
            raw.send(RawClient.query("select 1; select 2; select 3"));
            List<Character> types = new ArrayList<>();
            RawClient.Message m;
            do {
                m = raw.read();
                types.add(m.type());
            } while (m.type() != 'Z');
            assertThat(types.stream().filter(t -> t == 'C').count()).isEqualTo(3);
            assertThat(m.body()[0]).isEqualTo((byte) 'I');

            raw.send(RawClient.query("begin; select pg_backend_pid()"));
            String pid = null;
            do {
                m = raw.read();
                if (m.type() == 'D') {
                    pid = new String(m.body(), 6, m.body().length - 6, StandardCharsets.UTF_8);
                }
            } while (m.type() != 'Z');
            assertThat(m.body()[0]).as("transaction left open").isEqualTo((byte) 'T');
            raw.send(RawClient.query("select pg_backend_pid(); commit"));
            String again = null;
            do {
                m = raw.read();
                if (m.type() == 'D') {
                    again = new String(m.body(), 6, m.body().length - 6, StandardCharsets.UTF_8);
                }
            } while (m.type() != 'Z');
            assertThat(again).as("same server until the transaction ends").isEqualTo(pid);
            assertThat(m.body()[0]).isEqualTo((byte) 'I');
        }
    }

    @Test
    void cancelWithAWrongKeyIsIgnored() throws Exception {
        try (RawClient raw = new RawClient(turnout.port())) {
            raw.send(RawClient.startup("user", "alice", "database", "app"));
            int pid = 0;
            int secret = 0;
            RawClient.Message m;
            do {
                m = raw.read();
                if (m.type() == 'K') {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(m.body());
                    pid = b.getInt();
                    secret = b.getInt();
                }
            } while (m.type() != 'Z');
            assertThat(pid).isPositive();
            raw.send(RawClient.query("select pg_sleep(1.5)"));
            Thread.sleep(200);
            try (Socket s = new Socket("127.0.0.1", turnout.port())) {
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                out.writeInt(16);
                out.writeInt(80877102);
                out.writeInt(pid);
                out.writeInt(secret + 1);
                out.flush();
                assertThat(s.getInputStream().read()).as("closed without an answer").isEqualTo(-1);
            }
            assertThat(raw.readUntilReady()).as("the query was not cancelled").isNull();
        }
    }

    @Test
    void serverConnectTimeoutCoversABackendThatNeverAnswers() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
             TurnoutFixture t = TurnoutFixture.builder(pg)
                     .rawDatabase("silent", "host: 127.0.0.1, port: " + silent.getLocalPort() + ", dbname: x, user: u, password: p")
                     .set("server_connect_timeout", 1).start()) {
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> t.connect("alice", "alice_pw", "silent", new Properties()).close())
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getSQLState()).isEqualTo("08006");
                        assertThat(e.getMessage()).contains("server_connect_timeout");
                    });
            assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(800L, 5000L);
        }
    }
}
