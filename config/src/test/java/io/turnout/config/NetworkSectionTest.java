package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The keys for a pair of instances behind a load balancer, and their errors with file:line. */
class NetworkSectionTest {
    @TempDir
    Path dir;

    private TurnoutConfig parse(String extra) throws ConfigException {
        return ConfigLoader.parse("auth_type: trust\n" + extra + "databases:\n  d: { host: localhost }\n",
                "turnout.yaml", null, dir);
    }

    @Test
    void theSeedDeploymentsSettings() throws Exception {
        NetworkSettings n = parse("""
                proxy_protocol: true
                proxy_protocol_trusted: [10.0.0.0/16, "192.168.1.7"]
                tcp_keepidle: 10
                tcp_keepintvl: 1
                tcp_keepcnt: 5
                tcp_user_timeout: 5000
                so_reuseport: true
                peer_id: 2
                peers: [{id: 1, host: 10.0.1.11, port: 6432}, {id: 2, host: 10.0.1.12}]
                drain_accept_delay: 20
                drain_timeout: 5m
                """).network();
        assertThat(n.proxyProtocol()).isTrue();
        assertThat(n.proxyTrusted()).extracting(Cidr::toString).containsExactly("10.0.0.0/16", "192.168.1.7");
        assertThat(n.tcpKeepalive()).isTrue();
        assertThat(n.tcpKeepIdle()).isEqualTo(10);
        assertThat(n.tcpKeepIntvl()).isEqualTo(1);
        assertThat(n.tcpKeepCnt()).isEqualTo(5);
        assertThat(n.tcpUserTimeout()).isEqualTo(5000);
        assertThat(n.soReuseport()).isTrue();
        assertThat(n.peerId()).isEqualTo(2);
        assertThat(n.peers()).containsOnlyKeys(1); // this instance's own entry is not a peer
        assertThat(n.peers().get(1).getHostString()).isEqualTo("10.0.1.11");
        assertThat(n.drainAcceptDelay()).isEqualTo(Duration.ofSeconds(20));
        assertThat(n.drainTimeout()).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void defaultsKeepTheKernelsTimersAndNoPeering() throws Exception {
        NetworkSettings n = parse("").network();
        assertThat(n.proxyProtocol()).isFalse();
        assertThat(n.tcpKeepalive()).isTrue();
        assertThat(n.tcpKeepIdle()).isZero();
        assertThat(n.peerId()).isZero();
        assertThat(n.drainAcceptDelay()).isEqualTo(Duration.ofSeconds(15));
        assertThat(n.drainTimeout()).isEqualTo(Duration.ofSeconds(300));
    }

    @Test
    void mistakesNameTheKeyAndLine() {
        assertThatThrownBy(() -> parse("proxy_protocol: true\n")).hasMessageContaining("turnout.yaml:2: proxy_protocol:")
                .hasMessageContaining("proxy_protocol_trusted");
        assertThatThrownBy(() -> parse("proxy_protocol_trusted: [10.0.0.0/33]\n"))
                .hasMessageContaining("turnout.yaml:2: proxy_protocol_trusted:").hasMessageContaining("prefix length");
        assertThatThrownBy(() -> parse("proxy_protocol_trusted: [lb.example.com]\n"))
                .hasMessageContaining("not an address");
        assertThatThrownBy(() -> parse("peers: [{id: 1, host: a}]\n")).hasMessageContaining("peer_id");
        assertThatThrownBy(() -> parse("peer_id: 1\npeers: [{id: 2, host: a}, {id: 2, host: b}]\n"))
                .hasMessageContaining("listed twice");
        assertThatThrownBy(() -> parse("peer_id: 200\n")).hasMessageContaining("peer_id");
        assertThatThrownBy(() -> parse("peer_id: 1\npeers: [{id: 2, addr: x}]\n")).hasMessageContaining("addr");
    }

    @Test
    void transportIsAutoUnlessChosen() throws Exception {
        assertThat(parse("").network().transport()).isEqualTo(Transport.AUTO);
        assertThat(parse("transport: io_uring\n").network().transport()).isEqualTo(Transport.IO_URING);
        assertThat(parse("transport: EPOLL\n").network().transport()).isEqualTo(Transport.EPOLL);
        assertThat(parse("transport: nio\n").network().transport()).isEqualTo(Transport.NIO);
    }

    @Test
    void anUnknownTransportNamesTheKeyLineAndChoices() {
        assertThatThrownBy(() -> parse("tcp_keepalive: true\ntransport: uring\n"))
                .hasMessageContaining("turnout.yaml:3: transport:")
                .hasMessageContaining("auto, io_uring, epoll, nio").hasMessageContaining("'uring'");
        assertThatThrownBy(() -> parse("transport: [epoll]\n")).hasMessageContaining("turnout.yaml:2: transport:");
    }

    @Test
    void cidrsMatchTheirBlockOnly() throws Exception {
        Cidr c = Cidr.parse("10.1.0.0/16");
        assertThat(c.contains(InetAddress.getByName("10.1.255.3"))).isTrue();
        assertThat(c.contains(InetAddress.getByName("10.2.0.1"))).isFalse();
        assertThat(c.contains(InetAddress.getByName("::1"))).isFalse();
        assertThat(Cidr.parse("127.0.0.1").contains(InetAddress.getByName("127.0.0.1"))).isTrue();
        assertThat(Cidr.parse("127.0.0.1").contains(InetAddress.getByName("127.0.0.2"))).isFalse();
        assertThat(Cidr.parse("10.0.0.0/9").contains(InetAddress.getByName("10.127.0.1"))).isTrue();
        assertThat(Cidr.parse("10.0.0.0/9").contains(InetAddress.getByName("10.128.0.1"))).isFalse();
        assertThat(Cidr.parse("fd00::/8").contains(InetAddress.getByName("fd12::1"))).isTrue();
        assertThat(Cidr.parse("0.0.0.0/0").contains(InetAddress.getByName("8.8.8.8"))).isTrue();
    }
}
