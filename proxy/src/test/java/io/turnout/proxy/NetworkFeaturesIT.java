package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.ProxyHeaderSocketFactory;
import io.turnout.proxy.testing.RawClient;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** PROXY protocol, TCP keepalive timers, SO_REUSEPORT, graceful drain and cancel peering. */
class NetworkFeaturesIT {
    static PgServer pg;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
    }

    static Properties viaProxy(String version, String addr, int port) {
        Properties p = new Properties();
        p.setProperty("socketFactory", ProxyHeaderSocketFactory.class.getName());
        p.setProperty("socketFactoryArg", version + ":" + addr + ":" + port);
        return p;
    }

    @Test
    void proxyHeadersFromTrustedSourcesNameTheRealClient() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("proxy_protocol", true)
                .set("proxy_protocol_trusted", "[127.0.0.0/8]").set("admin_users", "admin").user("admin", "admin_pw")
                .start();
             Connection v2 = t.connect(viaProxy("v2", "203.0.113.7", 5555));
             Connection v1 = t.connect(viaProxy("v1", "198.51.100.9", 4444));
             Connection plain = t.connect();
             AdminClient admin = new AdminClient(t, "admin", "admin_pw")) {
            for (Connection c : List.of(v2, v1, plain)) {
                c.createStatement().execute("select 1");
            }
            var clients = admin.query("SHOW CLIENTS").where("database", "app");
            assertThat(clients).anySatisfy(r -> {
                assertThat(r.get("addr")).isEqualTo("203.0.113.7");
                assertThat(r.get("port")).isEqualTo("5555");
            });
            assertThat(clients).anySatisfy(r -> {
                assertThat(r.get("addr")).isEqualTo("198.51.100.9");
                assertThat(r.get("port")).isEqualTo("4444");
            });
            assertThat(clients).anySatisfy(r -> assertThat(r.get("addr")).isEqualTo("127.0.0.1"));
        }
    }

    @Test
    void aProxyHeaderFromAnUntrustedSourceIsRejected() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("proxy_protocol", true)
                .set("proxy_protocol_trusted", "[10.0.0.0/8]").start()) {
            assertThatThrownBy(() -> t.connect(viaProxy("v2", "203.0.113.7", 5555))).isInstanceOf(SQLException.class);
            try (Connection c = t.connect()) { // no header: a direct client still gets in
                c.createStatement().execute("select 1");
            }
        }
    }

    @Test
    void keepaliveTimersShowOnClientAndServerSockets() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("tcp_keepalive", true).set("tcp_keepidle", 10)
                .set("tcp_keepintvl", 1).set("tcp_keepcnt", 5).set("tcp_user_timeout", 3000).start();
             Connection c = t.connect()) {
            c.setAutoCommit(false);
            c.createStatement().execute("select 1"); // holds a server: both sockets exist now
            // right after a reply a socket may show its retransmission timer until the peer's ACK: look again
            String clientSide = "";
            String serverSide = "";
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (System.nanoTime() < deadline) {
                clientSide = ss("sport = :" + t.port());
                serverSide = ss("dport = :" + pg.port());
                if (!keepaliveSeconds(clientSide).isEmpty() && !keepaliveSeconds(serverSide).isEmpty()) {
                    break;
                }
                Thread.sleep(200);
            }
            assertThat(keepaliveSeconds(clientSide)).as(clientSide).isNotEmpty().allSatisfy(s -> assertThat(s).isBetween(0.0, 10.0));
            assertThat(keepaliveSeconds(serverSide)).as(serverSide).anySatisfy(s -> assertThat(s).isBetween(0.0, 10.0));
            c.commit();
        }
    }

    static String ss(String filter) {
        return Processes.run(Duration.ofSeconds(10), List.of("ss", "-tno", "state", "established", "( " + filter + " )"))
                .orThrow().stdout();
    }

    /** The seconds left on each socket's keepalive timer, as `ss -o` prints them: timer:(keepalive,9.9sec,0). */
    static List<Double> keepaliveSeconds(String ss) {
        Matcher m = Pattern.compile("timer:\\(keepalive,(?:(\\d+)min)?([\\d.]+)(ms|sec)").matcher(ss);
        java.util.ArrayList<Double> out = new java.util.ArrayList<>();
        while (m.find()) {
            double v = Double.parseDouble(m.group(2)) / (m.group(3).equals("ms") ? 1000 : 1);
            out.add(v + (m.group(1) != null ? 60 * Integer.parseInt(m.group(1)) : 0));
        }
        return out;
    }

    @Test
    void soReuseportLetsASecondProcessBindTheSamePort() throws Exception {
        try (TurnoutFixture first = TurnoutFixture.builder(pg).set("so_reuseport", true).start();
             TurnoutFixture second = TurnoutFixture.builder(pg).set("so_reuseport", true)
                     .set("listen_port", first.port()).start()) {
            assertThat(second.port()).isEqualTo(first.port());
            try (Connection c = second.connect()) {
                c.createStatement().execute("select 1");
            }
        }
    }

    @Test
    void drainKeepsAcceptingThenServesConnectedClientsThenStops() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("drain_accept_delay", 1).set("drain_timeout", 30)
                .start(); Connection early = t.connect()) {
            t.server().drain();
            assertThat(t.server().readiness()).contains("draining");
            try (Connection late = t.connect()) { // within drain_accept_delay: still accepted and served
                late.createStatement().execute("select 1");
            }
            Thread.sleep(1500);
            assertThatThrownBy(t::connect).as("the listener closed after drain_accept_delay")
                    .isInstanceOf(SQLException.class);
            early.createStatement().execute("select 1"); // a connected client keeps working
            assertThat(t.server().terminated()).isNotDone();
            early.close();
            t.server().terminated().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void drainTimeoutClosesClientsThatStay() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("drain_accept_delay", 0).set("drain_timeout", 1)
                .start(); Connection stays = t.connect()) {
            t.server().drain();
            t.server().terminated().get(15, TimeUnit.SECONDS);
            assertThatThrownBy(() -> stays.createStatement().execute("select 1")).isInstanceOf(SQLException.class);
        }
    }

    @Test
    void aCancelRequestLandingOnThePeerIsForwardedToTheOwner() throws Exception {
        int[] ports = freePorts(2);
        String peers = "[{id: 1, host: 127.0.0.1, port: " + ports[0] + "}, {id: 2, host: 127.0.0.1, port: " + ports[1] + "}]";
        try (TurnoutFixture one = TurnoutFixture.builder(pg).set("auth_type", "trust").set("listen_port", ports[0])
                .set("peer_id", 1).set("peers", peers).start();
             TurnoutFixture two = TurnoutFixture.builder(pg).set("auth_type", "trust").set("listen_port", ports[1])
                     .set("peer_id", 2).set("peers", peers).start();
             RawClient client = new RawClient(one.port())) {
            client.send(RawClient.startup("user", TurnoutFixture.USER, "database", "app"));
            int pid = 0;
            int secret = 0;
            RawClient.Message m;
            while ((m = client.read()).type() != 'Z') {
                if (m.type() == 'K') {
                    ByteBuffer b = ByteBuffer.wrap(m.body());
                    pid = b.getInt();
                    secret = b.getInt();
                }
            }
            assertThat(pid >>> 24).as("the key carries peer id 1").isEqualTo(1);
            client.send(RawClient.query("select pg_sleep(30)"));
            Thread.sleep(300);
            try (RawClient cancel = new RawClient(two.port())) { // the load balancer picked the other instance
                ByteBuffer req = ByteBuffer.allocate(16).putInt(16).putInt(80877102).putInt(pid).putInt(secret);
                cancel.send(req.array());
            }
            client.setTimeoutMillis(10_000);
            RawClient.Message error = client.readError();
            assertThat(error.field('C')).isEqualTo("57014");
        }
    }

    static int[] freePorts(int n) throws Exception {
        int[] out = new int[n];
        java.net.ServerSocket[] s = new java.net.ServerSocket[n];
        for (int i = 0; i < n; i++) {
            s[i] = new java.net.ServerSocket(0);
            out[i] = s[i].getLocalPort();
        }
        for (java.net.ServerSocket x : s) {
            x.close();
        }
        return out;
    }
}
