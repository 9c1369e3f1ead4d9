package io.turnout.config.topology;

import java.util.Objects;

/** A PostgreSQL server address as Patroni advertises it: host name or IP literal (IPv6 without brackets) and port. */
public record Endpoint(String host, int port) {
    public Endpoint {
        Objects.requireNonNull(host, "host");
        if (host.isEmpty()) {
            throw new IllegalArgumentException("empty host");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
    }

    /** {@code host:port}, with an IPv6 literal in brackets so logs and SHOW output stay unambiguous. */
    @Override
    public String toString() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
