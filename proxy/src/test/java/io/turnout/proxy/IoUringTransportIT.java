package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.turnout.config.Transport;
import io.turnout.proxy.net.Transports;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.TurnoutFixture;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code transport: io_uring}: real drivers through io_uring loops on both sides, with every TCP option set. */
class IoUringTransportIT {
    static PgServer pg;

    @BeforeAll
    static void start() throws ClassNotFoundException {
        // Transports turns Netty's multishot POLL_ADD off before IoUring loads: this class asks IoUring first
        Class.forName(Transports.class.getName());
        pg = PgServer.shared();
    }

    @Test
    void theKernelHereRunsIoUring() {
        assertThat(IoUring.isAvailable()).as("io_uring unavailable: %s", IoUring.unavailabilityCause()).isTrue();
    }

    @Test
    void autoIsIoUringWhereItLoads() throws Exception {
        // explicit, so a run with -Dturnout.it.transport=io_uring still asks for auto here
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("transport", "auto").start()) {
            assertThat(t.server().transport()).isEqualTo(Transport.IO_URING);
            try (Connection c = t.connect()) {
                assertThat(c.createStatement().executeQuery("select 1").next()).isTrue();
            }
        }
    }

    @Test
    void pgjdbcAndPgbenchThroughIoUringWithEverySocketOption() throws Exception {
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("transport", "io_uring").set("pool_mode", "transaction")
                .set("default_pool_size", 4).set("tcp_keepidle", 10).set("tcp_keepintvl", 2).set("tcp_keepcnt", 4)
                .set("tcp_user_timeout", 7000).set("so_reuseport", true).start()) {
            assertThat(t.server().transport()).isEqualTo(Transport.IO_URING);
            assertThat(t.server().bufferRing()).as("opt-in").isFalse();
            concurrentJdbc(t);
            try (Connection held = t.connect()) {
                held.setAutoCommit(false);
                held.createStatement().execute("select 1"); // holds a server socket while the options are read
                assertSocketOptions(t.server().openChannels());
                held.commit();
            }
            pgbench(t);
        }
    }

    @Test
    void withTheBufferRingEverySocketReadsFromIt() throws Exception {
        System.setProperty("turnout.iouring.bufferRing", "true");
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("transport", "io_uring").set("pool_mode", "transaction")
                .set("default_pool_size", 4).start()) {
            assertThat(t.server().bufferRing()).as("the kernel here registers buffer rings").isTrue();
            concurrentJdbc(t); // 2 MB rows: hundreds of ring buffers per answer, the ring grown at ENOBUFS
            try (Connection c = t.connect()) {
                c.setAutoCommit(false);
                ResultSet rs = c.createStatement().executeQuery("select repeat('y', 100000)");
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).hasSize(100_000);
                assertThat(t.server().openChannels()).filteredOn(ch -> ch.parent() == null).isNotEmpty();
                assertThat(t.server().openChannels()).allSatisfy(ch -> assertThat(
                        ch.config().getOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID)).isEqualTo((short) 0));
                c.commit();
            }
        } finally {
            System.clearProperty("turnout.iouring.bufferRing");
        }
    }

    @Test
    void aTransportThatDoesNotLoadFallsBackAndSaysSo(@TempDir Path dir) throws Exception {
        int port = NetworkFeaturesIT.freePorts(1)[0];
        Files.writeString(dir.resolve("users.txt"), "\"" + TurnoutFixture.USER + "\" \"" + TurnoutFixture.PASSWORD + "\"\n");
        Files.writeString(dir.resolve("turnout.yaml"), TurnoutFixture.builder(pg).set("transport", "io_uring")
                .set("listen_port", port).yaml());
        Path log = dir.resolve("turnout.log");
        // Netty's switch that keeps every native transport from loading: io_uring, then epoll, are "unavailable"
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m",
                "-Dio.netty.transport.noNative=true", "-jar", Path.of("target", "turnout.jar").toAbsolutePath().toString(),
                "--config", dir.resolve("turnout.yaml").toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!Files.readString(log).contains("turnout_listening") && p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(Files.readString(log)).contains("transport_fallback wanted=io_uring using=nio cause=")
                    .contains("explicit disabled").containsPattern("turnout_listening .*transport=nio");
            try (Connection c = java.sql.DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/app",
                    TurnoutFixture.USER, TurnoutFixture.PASSWORD);
                 ResultSet rs = c.createStatement().executeQuery("select 41 + 1")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getInt(1)).isEqualTo(42);
            }
        } finally {
            Processes.destroyTree(p);
        }
    }

    /** 16 clients on 4 servers, simple and extended queries and a 2 MB row each, every answer checked. */
    private static void concurrentJdbc(TurnoutFixture t) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                int client = i;
                done.add(pool.submit(() -> {
                    try (Connection c = t.connect();
                         PreparedStatement ps = c.prepareStatement("select ?::int * 2, repeat('x', ?)")) {
                        for (int n = 0; n < 100; n++) {
                            ps.setInt(1, client * 1000 + n);
                            ps.setInt(2, n == 50 ? 2_000_000 : 10);
                            try (ResultSet rs = ps.executeQuery()) {
                                assertThat(rs.next()).isTrue();
                                assertThat(rs.getInt(1)).isEqualTo(2 * (client * 1000 + n));
                                assertThat(rs.getString(2)).hasSize(n == 50 ? 2_000_000 : 10);
                            }
                            try (ResultSet rs = c.createStatement().executeQuery("select " + n)) {
                                assertThat(rs.next()).isTrue();
                                assertThat(rs.getInt(1)).isEqualTo(n);
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(180, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Client sockets (accepted by an io_uring listener) and server sockets (opened by Turnout) alike. */
    private static void assertSocketOptions(List<Channel> channels) {
        List<Channel> clients = channels.stream().filter(c -> c.parent() != null).toList();
        List<Channel> servers = channels.stream().filter(c -> c.parent() == null).toList();
        assertThat(clients).isNotEmpty().allSatisfy(c -> {
            assertThat(c.parent()).isInstanceOf(IoUringServerSocketChannel.class);
            assertThat(c.parent().config().getOption(UnixChannelOption.SO_REUSEPORT)).as("listener reuseport").isTrue();
        });
        assertThat(servers).as("Turnout's connections to PostgreSQL").isNotEmpty();
        for (Channel c : channels) {
            assertThat(c).isInstanceOf(IoUringSocketChannel.class);
            var config = c.config();
            assertThat(config.getOption(ChannelOption.SO_KEEPALIVE)).as("keepalive %s", c).isTrue();
            assertThat(config.getOption(ChannelOption.TCP_NODELAY)).as("nodelay %s", c).isTrue();
            assertThat(config.getOption(IoUringChannelOption.TCP_KEEPIDLE)).as("keepidle %s", c).isEqualTo(10);
            assertThat(config.getOption(IoUringChannelOption.TCP_KEEPINTVL)).as("keepintvl %s", c).isEqualTo(2);
            assertThat(config.getOption(IoUringChannelOption.TCP_KEEPCNT)).as("keepcnt %s", c).isEqualTo(4);
            assertThat(config.getOption(IoUringChannelOption.TCP_USER_TIMEOUT)).as("user timeout %s", c).isEqualTo(7000);
            assertThat(config.getOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID)).as("no buffer ring %s", c)
                    .isEqualTo((short) -1);
        }
        assertThat(NetworkFeaturesIT.keepaliveSeconds(NetworkFeaturesIT.ss("dport = :" + pg.port())))
                .as("the kernel's view of a server socket").anySatisfy(s -> assertThat(s).isBetween(0.0, 10.0));
    }

    private static void pgbench(TurnoutFixture t) {
        Map<String, String> pgEnv = PgServer.clientEnv();
        pgEnv.put("PGPASSWORD", "postgres");
        Processes.Result init = Processes.run(Duration.ofSeconds(120), List.of(pg.bin("pgbench"), "-i", "-s", "1", "-q",
                "-h", pg.host(), "-p", String.valueOf(pg.port()), "-U", "postgres", "app"), pgEnv, null, null);
        assertThat(init.exitCode()).as(init.stderr()).isZero();
        for (String mode : List.of("simple", "extended")) {
            List<String> cmd = new ArrayList<>(t.clientArgs(pg.bin("pgbench"), "app"));
            cmd.addAll(1, List.of("-n", "-S", "-M", mode, "-c", "20", "-j", "2", "-t", "100"));
            Processes.Result r = Processes.run(Duration.ofSeconds(120), cmd, t.clientEnv(), null, null);
            assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
            assertThat(r.stdout()).contains("number of transactions actually processed: 2000/2000")
                    .contains("number of failed transactions: 0 (0.000%)");
        }
    }
}
