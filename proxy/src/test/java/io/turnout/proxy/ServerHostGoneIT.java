package io.turnout.proxy;

import static io.turnout.proxy.testing.FaultFigures.errorOf;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.Channel;
import io.turnout.proxy.testing.Await;
import io.turnout.proxy.testing.FaultFigures;
import io.turnout.proxy.testing.NetNamespace;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.ShardLoad;
import io.turnout.proxy.testing.TurnoutFixture;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A PostgreSQL host or its network going away, caught by TCP (tcp_user_timeout, keepalive), not by
 * query_timeout. PostgreSQL runs in a {@link NetNamespace} of the test's own and Turnout reaches it through a
 * veth pair; cutting that link drops every packet both ways with no RST and no ICMP, and the far kernel no longer
 * acknowledges anything, which a relay on this machine cannot show. Four other clients commit meanwhile through
 * another pool (the shared server on loopback), whose every error is counted. Each case prints a {@code fault:}
 * line (see README, Reliability).
 */
class ServerHostGoneIT {
    private static final int OTHERS = 4;
    private static final int USER_TIMEOUT_MS = 2000;

    static PgServer local;
    static NetNamespace ns;
    static PgServer far;
    TurnoutFixture turnout;

    @BeforeAll
    static void servers() {
        local = PgServer.shared();
        local.psql("app", ShardLoad.TABLE);
        ns = NetNamespace.create();
        far = PgServer.start();
        far.moveInto(ns);
    }

    @AfterAll
    static void cleanUp() {
        try {
            if (far != null) {
                far.close();
            }
        } finally {
            if (ns != null) {
                ns.close();
            }
        }
    }

    @AfterEach
    void stop() throws Exception {
        if (ns != null) {
            ns.restore(); // a case that failed with the link cut leaves it for the next one otherwise
        }
        FaultFigures.closeAll(turnout);
        turnout = null;
    }

    private int finish(FaultFigures figures) throws Exception {
        stop();
        return figures.print();
    }

    /** Database {@code app} on the local server, {@code far} in the namespace; no query_timeout. */
    private void start(int userTimeoutMs, int keepCnt) {
        turnout = TurnoutFixture.builder(local)
                .rawDatabase("far", "host: " + far.host() + ", port: " + far.port()
                        + ", dbname: app, user: postgres, password: postgres, pool_size: 2")
                .set("tcp_keepalive", true).set("tcp_keepidle", 1).set("tcp_keepintvl", 1)
                .set("tcp_keepcnt", keepCnt).set("tcp_user_timeout", userTimeoutMs)
                .set("server_connect_timeout", 2).set("server_login_retry", 1)
                .start();
    }

    /**
     * The host goes away while PostgreSQL runs the client's query: Turnout sends nothing then, so keepalive
     * probes (after 1 s idle) are what go unanswered, and tcp_user_timeout ends the connection 2 s after the
     * last thing received, long before keepalive's own count (10 probes) would.
     */
    @Test
    void hostGoneMidQueryCaughtByTcpUserTimeout() throws Exception {
        long ms = midQuery("host_gone_mid_query_tcp_user_timeout", USER_TIMEOUT_MS, 10);
        // the last probe answered came at most one keepalive interval (1 s) before the cut
        assertThat(ms).as("tcp_user_timeout 2 s, not keepalive's 1 + 10 x 1 s").isGreaterThan(USER_TIMEOUT_MS - 1_100)
                .isLessThan(7_000);
    }

    /** The same without tcp_user_timeout: keepalive alone, 1 s idle + 3 probes 1 s apart. */
    @Test
    void hostGoneMidQueryCaughtByKeepalive() throws Exception {
        long ms = midQuery("host_gone_mid_query_keepalive", 0, 3);
        assertThat(ms).as("keepalive: 1 s idle + 3 x 1 s").isGreaterThan(4_000 - 1_100).isLessThan(10_000);
    }

    /** Runs a 30 s query on {@code far}, cuts the link under it; returns the ms until the client's error. */
    private long midQuery(String name, int userTimeoutMs, int keepCnt) throws Exception {
        FaultFigures fig = FaultFigures.begin(name);
        start(userTimeoutMs, keepCnt);
        long detectMs;
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS); Connection victim = connectFar()) {
            others.awaitCommits(100);
            query(victim, "select 1");
            CompletableFuture<Long> serverClosed = closeTime(farServerChannel());
            // the marker names the case: the backend of an earlier one may still sleep there, unaware
            CompletableFuture<SQLException> sleeping = CompletableFuture.supplyAsync(
                    () -> errorOf(() -> query(victim, "select pg_sleep(30) /* " + name + " */")));
            awaitRunningOnFar(name);
            awaitAcknowledged();
            long cut = System.nanoTime(); // before: ip's own start and exit are no part of detection
            ns.cut();
            SQLException e = sleeping.get(60, TimeUnit.SECONDS);
            long seen = System.nanoTime();
            fig.detected(cut, seen).faultedSaw(e);
            detectMs = TimeUnit.NANOSECONDS.toMillis(seen - cut);
            assertThat(e.getSQLState()).as(e.getMessage()).isEqualTo("08006");
            assertThat(e.getMessage()).contains("server connection closed unexpectedly (database far)");
            assertThat(serverClosed).as("the dead server connection is closed, never pooled").isDone();
            ns.restore();
            long restored = System.nanoTime();
            fig.recovered(restored, FaultFigures.untilWorks(this::connectFar, 60_000));
            fig.othersUnaffected(others, "clients of another pool");
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
        return detectMs;
    }

    /**
     * The host goes away while the pool holds an idle connection to it and no tcp_user_timeout is set: keepalive
     * (1 s idle, 2 probes 1 s apart) closes it 3 s after the last reply. Its client, outside a transaction, sees
     * no error: its next query, once the link is back, runs on a new server connection.
     */
    @Test
    void idleServerOfAGoneHostClosedByKeepalive() throws Exception {
        FaultFigures fig = FaultFigures.begin("host_gone_idle_server_keepalive");
        start(0, 2);
        try (ShardLoad others = new ShardLoad(turnout, "app", OTHERS); Connection victim = connectFar()) {
            others.awaitCommits(100);
            query(victim, "select 1"); // in transaction mode its server goes back to the pool, idle
            long lastReply = System.nanoTime();
            CompletableFuture<Long> serverClosed = closeTime(farServerChannel());
            long cut = System.nanoTime(); // before: ip's own start and exit are no part of detection
            ns.cut();
            long closed = serverClosed.get(60, TimeUnit.SECONDS);
            fig.detected(cut, closed);
            assertThat(TimeUnit.NANOSECONDS.toMillis(closed - lastReply)).as("keepalive: 1 s idle + 2 x 1 s")
                    .isGreaterThanOrEqualTo(2_500).isLessThan(15_000);
            ns.restore();
            long restored = System.nanoTime();
            query(victim, "select 1"); // no error: a new server connection
            long back = System.nanoTime();
            fig.faultedSaw("no error: its idle server connection closed " + TimeUnit.NANOSECONDS.toMillis(closed - cut)
                    + " ms after the cut; its next query ran on a new one").recovered(restored, back);
            fig.othersUnaffected(others, "clients of another pool");
        }
        assertThat(finish(fig)).as("leaked buffers").isZero();
    }

    /** Turnout's one server socket to the namespace (pool {@code far} has served one client). */
    private Channel farServerChannel() {
        List<Channel> found = turnout.server().openChannels().stream()
                .filter(c -> c.remoteAddress() instanceof InetSocketAddress a
                        && a.getAddress().getHostAddress().equals(ns.nsAddress()))
                .toList();
        assertThat(found).as("server sockets to " + ns.nsAddress()).hasSize(1);
        return found.get(0);
    }

    /** Completes with the nanoTime {@code c} closed at. */
    private static CompletableFuture<Long> closeTime(Channel c) {
        CompletableFuture<Long> closed = new CompletableFuture<>();
        c.closeFuture().addListener(f -> closed.complete(System.nanoTime()));
        return closed;
    }

    /** Waits until PostgreSQL in the namespace runs the query carrying {@code marker} (psql over the unix socket). */
    private static void awaitRunningOnFar(String marker) {
        Await.until("the query to run on " + far, Duration.ofSeconds(60), () -> far.psql("app",
                "select count(*) from pg_stat_activity where state = 'active' and pid <> pg_backend_pid()"
                        + " and query like '%" + marker + "%'").equals("1"));
    }

    /**
     * Waits until the far host has acknowledged every byte Turnout sent it (ss's Send-Q 0). PostgreSQL may run the
     * query before its delayed ACK leaves; a link cut then leaves the query's bytes unacknowledged, and TCP
     * retransmits them for minutes instead of probing with keepalive (a CI run timed out on exactly that).
     */
    private static void awaitAcknowledged() {
        Await.until("Turnout's bytes to " + ns.nsAddress() + " acknowledged", Duration.ofSeconds(10), () -> {
            String out = Processes.run(Duration.ofSeconds(10), List.of("ss", "-Htn", "state", "established", "dst",
                    ns.nsAddress())).orThrow().stdout();
            // columns without a State column: Recv-Q Send-Q Local Peer
            return !out.isBlank() && out.lines().allMatch(l -> l.trim().split("\\s+")[1].equals("0"));
        });
    }

    private Connection connectFar() throws SQLException {
        return turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "far", new Properties());
    }

    private static void query(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
        }
    }
}
