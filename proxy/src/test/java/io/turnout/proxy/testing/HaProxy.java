package io.turnout.proxy.testing;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * HAProxy (Debian's package) in TCP mode standing in for an AWS NLB with proxy protocol: round robin
 * over Turnout instances with {@code send-proxy-v2}, each health-checked on its HTTP /ready every 200 ms,
 * as the NLB target group does. The runtime API (stats socket) puts a server in or out of maintenance.
 */
public final class HaProxy implements AutoCloseable {
    /** A Turnout instance behind the proxy: its PostgreSQL port and its /ready port. */
    public record Backend(String name, int port, int readyPort) {
    }

    private static final Path HAPROXY = Path.of("/usr/sbin/haproxy");
    private static final String DIR_PREFIX = "turnout-haproxy-";
    private static final Duration AWAIT = Duration.ofSeconds(60);

    private final ServerProcess process;
    private final Path dir;
    private final int port;

    private HaProxy(ServerProcess process, Path dir, int port) {
        this.process = process;
        this.dir = dir;
        this.port = port;
    }

    public static void ensureInstalled() {
        DebianPackages.ensure("haproxy", List.of(HAPROXY));
    }

    /** Starts HAProxy on {@code port} and waits until its runtime API socket exists. */
    public static HaProxy start(int port, List<Backend> backends) throws IOException {
        ensureInstalled();
        OwnedDirs.reapStale(DIR_PREFIX);
        Path dir = OwnedDirs.create(DIR_PREFIX, false);
        StringBuilder cfg = new StringBuilder("""
                global
                  stats socket %s mode 600 level admin
                defaults
                  mode tcp
                  timeout connect 5s
                  timeout client 1h
                  timeout server 1h
                frontend postgres
                  bind 127.0.0.1:%d
                  default_backend turnout
                backend turnout
                  balance roundrobin
                  option httpchk GET /ready
                  http-check expect status 200
                  default-server inter 200ms fall 1 rise 2 send-proxy-v2
                """.formatted(dir.resolve("admin.sock"), port));
        for (Backend b : backends) {
            cfg.append("  server ").append(b.name()).append(" 127.0.0.1:").append(b.port()).append(" check port ")
                    .append(b.readyPort()).append('\n');
        }
        Path file = dir.resolve("haproxy.cfg");
        Files.writeString(file, cfg);
        Processes.run(Duration.ofSeconds(30), List.of(HAPROXY.toString(), "-c", "-f", file.toString())).orThrow();
        HaProxy h = new HaProxy(new ServerProcess("haproxy", List.of(HAPROXY.toString(), "-db", "-f",
                file.toString()), dir), dir, port);
        try {
            h.process.startAndAwait(AWAIT, () -> Files.exists(dir.resolve("admin.sock")));
        } catch (RuntimeException | AssertionError e) {
            h.close();
            throw e;
        }
        return h;
    }

    public int port() {
        return port;
    }

    /** One runtime API command, e.g. {@code set server turnout/t1 state maint}; returns the answer. */
    public String command(String cmd) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(dir.resolve("admin.sock")));
            ch.write(ByteBuffer.wrap((cmd + "\n").getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            while (ch.read(buf) >= 0) {
                if (!buf.hasRemaining()) {
                    break;
                }
            }
            buf.flip();
            return StandardCharsets.US_ASCII.decode(buf).toString();
        }
    }

    /** The server's operational state from "show servers state": "2" running, "0" stopped (down). */
    public String state(String server) throws IOException {
        for (String line : command("show servers state turnout").split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 5 && !f[0].startsWith("#") && f[3].equals(server)) {
                return f[5];
            }
        }
        return "?";
    }

    public String log() throws IOException {
        return Files.readString(process.log());
    }

    @Override
    public void close() {
        process.kill();
        OwnedDirs.deleteTree(dir);
    }
}
