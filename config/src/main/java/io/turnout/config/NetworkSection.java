package io.turnout.config;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads the listener, TCP, peering and drain keys into {@link NetworkSettings}. */
final class NetworkSection {
    static final List<String> KEYS = List.of("proxy_protocol", "proxy_protocol_trusted", "tcp_keepalive",
            "tcp_keepidle", "tcp_keepintvl", "tcp_keepcnt", "tcp_user_timeout", "so_reuseport", "peer_id", "peers",
            "drain_accept_delay", "drain_timeout", "transport");
    static final List<String> PEER_KEYS = List.of("id", "host", "port");

    private NetworkSection() {
    }

    static NetworkSettings parse(YamlSection top) throws ConfigException {
        boolean proxy = top.bool("proxy_protocol", false);
        List<Cidr> trusted = new ArrayList<>();
        for (String s : top.list("proxy_protocol_trusted")) {
            try {
                trusted.add(Cidr.parse(s));
            } catch (IllegalArgumentException e) {
                throw top.error("proxy_protocol_trusted", e.getMessage());
            }
        }
        if (proxy && trusted.isEmpty()) {
            throw top.error("proxy_protocol", "proxy_protocol needs proxy_protocol_trusted: the load balancer's "
                    + "addresses (e.g. [10.0.0.0/16]); a PROXY header from anywhere else is rejected");
        }
        int peerId = top.integer("peer_id", 0, 0, NetworkSettings.MAX_PEER_ID);
        Map<Integer, InetSocketAddress> peers = peers(top, peerId);
        return new NetworkSettings(proxy, List.copyOf(trusted),
                top.bool("tcp_keepalive", true),
                top.integer("tcp_keepidle", 0, 0, 32767),
                top.integer("tcp_keepintvl", 0, 0, 32767),
                top.integer("tcp_keepcnt", 0, 0, 127),
                top.integer("tcp_user_timeout", 0, 0, Integer.MAX_VALUE),
                top.bool("so_reuseport", false),
                peerId, peers,
                top.duration("drain_accept_delay", Duration.ofSeconds(15)),
                top.duration("drain_timeout", Duration.ofSeconds(300)),
                transport(top));
    }

    private static Transport transport(YamlSection top) throws ConfigException {
        String raw = top.string("transport", "auto");
        Transport t = Transport.of(raw.trim());
        if (t == null) {
            throw top.error("transport", "expected one of auto, io_uring, epoll, nio, got '" + raw + "'");
        }
        return t;
    }

    /** {@code peers: [{id: 2, host: 10.0.1.12, port: 6432}, ...]}: this instance may be listed too (ignored). */
    private static Map<Integer, InetSocketAddress> peers(YamlSection top, int peerId) throws ConfigException {
        Map<Integer, InetSocketAddress> out = new LinkedHashMap<>();
        List<YamlSection> entries = top.sections("peers");
        if (!entries.isEmpty() && peerId == 0) {
            throw top.error("peers", "peers need this instance's own peer_id (1.." + NetworkSettings.MAX_PEER_ID + ")");
        }
        for (YamlSection p : entries) {
            p.rejectUnknown(PEER_KEYS);
            if (!p.has("id") || !p.has("host")) {
                throw top.error("peers", "each peer needs id and host (and port, default 6432)");
            }
            int id = p.integer("id", 0, 1, NetworkSettings.MAX_PEER_ID);
            if (out.containsKey(id)) {
                throw p.error("id", "peer id " + id + " is listed twice");
            }
            if (id != peerId) {
                out.put(id, InetSocketAddress.createUnresolved(p.string("host", null), p.integer("port", 6432, 1, 65535)));
            }
        }
        return Map.copyOf(out);
    }
}
