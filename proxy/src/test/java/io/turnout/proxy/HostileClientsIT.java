package io.turnout.proxy;

import static io.turnout.proxy.testing.RawClient.cat;
import static io.turnout.proxy.testing.RawClient.cstr;
import static io.turnout.proxy.testing.RawClient.message;
import static io.turnout.proxy.testing.RawClient.query;
import static io.turnout.proxy.testing.RawClient.sync;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.channel.Channel;
import io.turnout.proxy.client.LoginFailures;
import io.turnout.proxy.testing.Canary;
import io.turnout.proxy.testing.HostileClients;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.RawClient;
import io.turnout.proxy.testing.TurnoutFixture;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hostile and broken clients (issue 15 item 3), each while a well-behaved client ({@link Canary}) keeps
 * running and must see no error: silent half-sent startup packets, a client that never reads a large
 * result, a storm of SCRAM logins with wrong passwords, and a client that vanishes at every byte offset
 * of a pipelined extended-protocol batch. The figures at scale come from {@code bench/hostile}.
 */
class HostileClientsIT {
    static PgServer pg;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        pg.psql("app", "DROP TABLE IF EXISTS hostile_t; CREATE TABLE hostile_t (id int); GRANT ALL ON hostile_t TO PUBLIC");
    }

    private static TurnoutFixture.Builder trust() {
        return TurnoutFixture.builder(pg).set("auth_type", "trust");
    }

    private static void await(BooleanSupplier ok, Duration within, String what) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!ok.getAsBoolean()) {
            assertThat(System.nanoTime() < deadline).as(what).isTrue();
            Thread.sleep(50);
        }
    }

    /** A thousand silent half startups: closed by client_login_timeout, counted nowhere, nobody else waits. */
    @Test
    void halfSentStartupPacketsAreClosedAtTheLoginTimeoutAndLeaveMaxClientConnToLoggedInClients() throws Exception {
        int n = 1000;
        try (TurnoutFixture t = trust().set("max_client_conn", 20).set("client_login_timeout", 5).start()) {
            Canary canary = new Canary(t);
            long timeoutsBefore = LoginFailures.of(LoginFailures.TIMEOUT).sum();
            List<Socket> silent = HostileClients.halfStartups(t.port(), n, RawClient.startup("user", "alice", "database", "app"));
            try {
                // max_client_conn is 20 and 1,000 connections are open: logins still go through, because a
                // connection counts against it only once its whole startup packet has arrived
                List<Connection> loggedIn = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    loggedIn.add(t.connect());
                    loggedIn.get(i).createStatement().execute("select 1");
                }
                assertThat(t.server().clientCount().get()).isEqualTo(11); // the canary and these ten
                for (Connection c : loggedIn) {
                    c.close();
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                assertThat(HostileClients.closedByServer(silent, deadline)).as("half-open connections closed").isEqualTo(n);
                await(() -> LoginFailures.of(LoginFailures.TIMEOUT).sum() - timeoutsBefore >= n, Duration.ofSeconds(10),
                        "every one counted as a login timeout");
            } finally {
                HostileClients.closeAll(silent);
            }
            System.out.printf("half startups: %d closed by client_login_timeout; canary max %.1f ms over %d queries%n", n,
                    canary.maxMillis(), canary.completed());
            canary.stop();
        }
    }

    /** A client that never reads: Turnout stops reading its server, memory stays flat, the server is held. */
    @Test
    void aClientThatNeverReadsIsHeldByBackpressureWithoutBuffering() throws Exception {
        long rows = 300_000; // ~300 MB of DataRows
        try (TurnoutFixture t = trust().set("workers", 1).start(); Socket reader = new Socket()) {
            Canary canary = new Canary(t);
            reader.setReceiveBufferSize(64 * 1024);
            reader.connect(new InetSocketAddress("127.0.0.1", t.port()));
            reader.setSoTimeout(30_000);
            assertThat(HostileClients.login(reader, "alice", null, "app")).isEqualTo("ok");
            long directBefore = usedDirectMemory();
            HostileClients.askForUnreadResult(reader, rows, 1000);
            // PostgreSQL blocked writing to Turnout: Turnout's socket is full because it stopped reading it
            await(() -> pg.psql("app", "select count(*) from pg_stat_activity where wait_event = 'ClientWrite'"
                    + " and query like 'select repeat%'").trim().equals("1"), Duration.ofSeconds(60),
                    "the server backend blocked in ClientWrite");
            Channel client = t.server().openChannels().stream()
                    .filter(ch -> ch.remoteAddress() instanceof InetSocketAddress a && a.getPort() == reader.getLocalPort())
                    .findFirst().orElseThrow();
            long maxPending = 0;
            long maxDirect = 0;
            for (int i = 0; i < 10; i++) {
                var out = client.unsafe().outboundBuffer();
                maxPending = Math.max(maxPending, out == null ? 0 : out.totalPendingWriteBytes());
                maxDirect = Math.max(maxDirect, usedDirectMemory() - directBefore);
                Thread.sleep(100);
            }
            System.out.printf("slow reader: pending to the client at most %d KiB, direct memory +%d KiB; canary max %.1f ms%n",
                    maxPending / 1024, maxDirect / 1024, canary.maxMillis());
            assertThat(maxPending).as("bytes queued for the client").isLessThan(4L << 20);
            assertThat(maxDirect).as("direct memory growth").isLessThan(64L << 20);
            assertThat(pg.psql("app", "select count(*) from pg_stat_activity where wait_event = 'ClientWrite'"
                    + " and query like 'select repeat%'").trim()).as("the server is still held").isEqualTo("1");
            // nothing was lost: reading resumes the flow to the last row
            assertThat(HostileClients.drainResult(reader)).isEqualTo(rows);
            canary.stop();
        }
    }

    private static long usedDirectMemory() {
        return ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric().usedDirectMemory();
    }

    /** Wrong SCRAM proofs as fast as the test can send them: each refused with 28P01 and counted in /metrics. */
    @Test
    void wrongPasswordStormIsCountedAndSlowsNobody() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("metrics_port", 0).start()) {
            Canary canary = new Canary(t);
            double before = HostileClients.passwordFailures(t.server().httpPort());
            var storm = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return HostileClients.wrongPasswordStorm(t.port(), "alice", "app", 4, 1000, 3);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            for (int i = 0; i < 5; i++) { // the right password still logs in during the storm
                try (Connection c = t.connect()) {
                    c.createStatement().execute("select 1");
                }
            }
            HostileClients.Storm done = storm.get(120, TimeUnit.SECONDS);
            System.out.printf("wrong passwords: %d refused in %.1f s (%.0f/s), %d other; canary max %.1f ms over %d queries%n",
                    done.refused(), done.seconds(), done.rate(), done.other(), canary.maxMillis(), canary.completed());
            assertThat(done.other()).as("logins that did not end in 28P01").isZero();
            int refused = done.refused();
            assertThat(refused).isPositive();
            assertThat(HostileClients.passwordFailures(t.server().httpPort()) - before).isEqualTo(refused);
            canary.stop();
        }
    }

    /**
     * A client vanishes after each byte offset of a pipelined Parse/Bind/Execute/Sync batch, inside and
     * outside a transaction; the next client on the same single server sees no transaction, no statement
     * or portal of it, and ReadyForQuery 'I'.
     */
    @Test
    void aClientVanishingAtEveryByteOffsetOfABatchLeavesNoStateBehind() throws Exception {
        try (TurnoutFixture t = trust().set("workers", 1).set("default_pool_size", 1).start()) {
            Canary canary = new Canary(t);
            int reused = 0;
            int closed = 0;
            int lastPid = 0;
            for (boolean inTx : new boolean[] {false, true}) {
                byte[] batch = batch(inTx);
                for (int offset = 0; offset <= batch.length; offset++) {
                    try (Socket s = login(t)) {
                        s.getOutputStream().write(batch, 0, offset);
                        if (offset % 2 == 1) {
                            s.setSoLinger(true, 0); // a reset instead of a FIN, every other time
                        }
                    }
                    int pid = assertNothingLeft(t, "in transaction " + inTx + ", offset " + offset + " of " + batch.length);
                    if (pid == lastPid) {
                        reused++;
                    } else {
                        closed++;
                    }
                    lastPid = pid;
                }
            }
            System.out.printf("vanishing client: server reused clean %d times, replaced %d times; canary max %.1f ms%n",
                    reused, closed, canary.maxMillis());
            assertThat(reused).as("a server left clean is reused").isPositive();
            canary.stop();
        }
    }

    private static Socket login(TurnoutFixture t) throws IOException {
        Socket s = new Socket("127.0.0.1", t.port());
        s.setSoTimeout(30_000);
        assertThat(HostileClients.login(s, "alice", null, "app")).isEqualTo("ok");
        return s;
    }

    /** [BEGIN] then twice Parse (named) / Bind (named portal, one parameter) / Execute / Sync [COMMIT]. */
    private static byte[] batch(boolean inTx) {
        List<byte[]> parts = new ArrayList<>();
        if (inTx) {
            parts.add(query("BEGIN"));
        }
        for (int i = 1; i <= 2; i++) {
            byte[] value = String.valueOf(i).getBytes(StandardCharsets.US_ASCII);
            parts.add(RawClient.parse("vanish_s" + i, "insert into hostile_t values ($1::int)"));
            parts.add(message('B', cat(cstr("vanish_p" + i), cstr("vanish_s" + i), new byte[] {0, 0, 0, 1},
                    new byte[] {0, 0, 0, (byte) value.length}, value, new byte[] {0, 0})));
            parts.add(message('E', cat(cstr("vanish_p" + i), new byte[] {0, 0, 0, 0})));
            parts.add(sync());
        }
        if (inTx) {
            parts.add(query("COMMIT"));
        }
        return cat(parts.toArray(new byte[0][]));
    }

    /** A new client on the pool's one server: no transaction, statement or portal left; returns the backend pid. */
    private static int assertNothingLeft(TurnoutFixture t, String when) throws IOException {
        try (Socket s = login(t)) {
            s.getOutputStream().write(query("select pg_current_xact_id_if_assigned() is null,"
                    + " (select count(*) from pg_prepared_statements where name !~ '^T_[0-9]+$'),"
                    + " (select count(*) from pg_cursors), pg_backend_pid()"));
            DataInputStream in = new DataInputStream(s.getInputStream());
            List<String> row = null;
            while (true) {
                int type = in.readUnsignedByte();
                byte[] body = new byte[in.readInt() - 4];
                in.readFully(body);
                if (type == 'E') {
                    throw new AssertionError(when + ": " + new RawClient.Message('E', body).field('M'));
                }
                if (type == 'D') {
                    row = dataRow(body);
                } else if (type == 'Z') {
                    assertThat((char) body[0]).as(when + ": ReadyForQuery status").isEqualTo('I');
                    break;
                }
            }
            assertThat(row).as(when + ": no transaction, statement or portal left").isNotNull()
                    .startsWith("t", "0", "0");
            // the vanished client's statement name means nothing here
            s.getOutputStream().write(cat(RawClient.bind("vanish_s1"), sync()));
            String error = null;
            while (true) {
                int type = in.readUnsignedByte();
                byte[] body = new byte[in.readInt() - 4];
                in.readFully(body);
                if (type == 'E' && error == null) {
                    error = new RawClient.Message('E', body).field('C');
                } else if (type == 'Z') {
                    break;
                }
            }
            assertThat(error).as(when + ": Bind of the vanished client's statement").isEqualTo("26000");
            return Integer.parseInt(row.get(3));
        }
    }

    private static List<String> dataRow(byte[] body) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(body);
        int n = b.getShort();
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int len = b.getInt();
            byte[] v = new byte[Math.max(len, 0)];
            b.get(v);
            out.add(len < 0 ? null : new String(v, StandardCharsets.UTF_8));
        }
        return out;
    }
}
