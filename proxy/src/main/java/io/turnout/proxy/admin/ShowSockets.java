package io.turnout.proxy.admin;

import static io.turnout.proxy.admin.AdminResult.INT4;
import static io.turnout.proxy.admin.AdminResult.INT8;
import static io.turnout.proxy.admin.AdminResult.TEXT;

import io.turnout.proxy.pool.ConnectionInfo;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;

/** SHOW CLIENTS and SHOW SERVERS: one row per connection, PgBouncer's socket columns. */
final class ShowSockets {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);

    private ShowSockets() {
    }

    static AdminResult clients(Snapshot snap) {
        return rows(snap.clients().stream().filter(c -> !c.state().equals("login")).toList(), false);
    }

    /** PgBouncer's columns, then {@code member}: the Patroni standby a read database's server is on ("" else). */
    static AdminResult servers(Snapshot snap) {
        return rows(snap.servers(), true);
    }

    private static AdminResult rows(List<ConnectionInfo> list, boolean servers) {
        AdminResult r = new AdminResult("SHOW").columns("type", TEXT, "user", TEXT, "database", TEXT,
                "replication", TEXT, "state", TEXT, "addr", TEXT, "port", INT4, "local_addr", TEXT, "local_port", INT4,
                "connect_time", TEXT, "request_time", TEXT, "wait", INT4, "wait_us", INT4, "close_needed", INT4,
                "ptr", TEXT, "link", TEXT, "remote_pid", INT4, "tls", TEXT, "application_name", TEXT,
                "prepared_statements", INT4, "id", INT8);
        if (servers) {
            r.columns("member", TEXT);
        }
        for (ConnectionInfo c : list) {
            long waitUs = c.waitNanos() / 1000;
            Object[] row = {c.server() ? "S" : "C", c.user(), c.database(), "none", c.state(), c.addr(), c.port(),
                    c.localAddr(), c.localPort(), time(c.connectEpochMillis()), time(c.requestEpochMillis()),
                    waitUs / 1_000_000, waitUs % 1_000_000, c.closeNeeded(), ptr(c.id()),
                    c.linkId() != 0 ? ptr(c.linkId()) : "", c.remotePid(), c.tls(), c.applicationName(),
                    c.preparedStatements(), c.id(), c.member()};
            r.row(servers ? row : java.util.Arrays.copyOf(row, row.length - 1));
        }
        return r;
    }

    /** PgBouncer prints a pointer; ours is the connection id in the same hex form, so link matches ptr. */
    static String ptr(long id) {
        return "0x" + Long.toHexString(id);
    }

    static String time(long epochMillis) {
        return TIME.format(Instant.ofEpochMilli(epochMillis));
    }
}
