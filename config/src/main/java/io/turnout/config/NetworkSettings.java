package io.turnout.config;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * How Turnout sits on the network next to its twin behind a load balancer.
 *
 * @param proxyProtocol expect PROXY protocol v1/v2 headers (HAProxy, AWS NLB) on the client listener
 * @param proxyTrusted sources allowed to send a PROXY header; a header from anywhere else is rejected
 * @param tcpKeepalive SO_KEEPALIVE on client and server sockets
 * @param tcpKeepIdle seconds before the first probe (0 = the OS default)
 * @param tcpKeepIntvl seconds between probes (0 = the OS default)
 * @param tcpKeepCnt probes before the connection is dropped (0 = the OS default)
 * @param tcpUserTimeout milliseconds unacknowledged data may wait before the connection is dropped (0 = off)
 * @param soReuseport a new process may bind the same port while the old one drains
 * @param peerId this instance's id in cancel keys (0 = no peering)
 * @param peers the other instances by peer id: where a CancelRequest that is not ours goes
 * @param drainAcceptDelay after SIGTERM, keep accepting this long (the load balancer's deregistration delay)
 * @param drainTimeout after SIGTERM, clients still connected this long are closed and Turnout exits
 * @param transport the event loops' I/O: auto (io_uring, else epoll, else NIO), io_uring, epoll or nio
 */
public record NetworkSettings(
        boolean proxyProtocol,
        List<Cidr> proxyTrusted,
        boolean tcpKeepalive,
        int tcpKeepIdle,
        int tcpKeepIntvl,
        int tcpKeepCnt,
        int tcpUserTimeout,
        boolean soReuseport,
        int peerId,
        Map<Integer, InetSocketAddress> peers,
        Duration drainAcceptDelay,
        Duration drainTimeout,
        Transport transport) {
    public static final int MAX_PEER_ID = 127;
}
