package io.turnout.proxy.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A network namespace of the test's own, joined to the host by a veth pair, so that a server inside sits behind
 * a link the test can cut. {@link #cut()} takes the namespace's end down: from then on nothing crosses, in
 * either direction, and nothing answers (no RST, no ICMP): to the host's TCP the peer host or its network is
 * gone, unlike a relay or a stopped process, whose kernel still acknowledges. {@link #restore()} brings it back.
 *
 * <p>The host end has {@code 10.213.a.b+1/30} and the namespace end {@code +2}: private addresses that exist only
 * on this pair, never routed off the machine; {@code lo} is left alone (other tests use it). Names carry this
 * JVM's pid and a counter ({@code turnout-<pid>-<n>}, veth {@code tnh<pid36>-<n>}), so parallel runs do not
 * clash; a namespace whose JVM is gone is deleted by the next JVM's first {@link #create()} (its veth pair goes
 * with it). Needs root (CI runs as root) and iproute2's {@code ip}.
 */
public final class NetNamespace implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NetNamespace.class);
    private static final String PREFIX = "turnout-";
    private static final Duration IP_TIMEOUT = Duration.ofSeconds(60);
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static volatile boolean reaped;

    private final String name;
    private final String hostIf;
    private final String nsIf;
    private final String hostAddress;
    private final String nsAddress;
    private volatile boolean closed;

    private NetNamespace(String name, String hostIf, String nsIf, int subnet) {
        this.name = name;
        this.hostIf = hostIf;
        this.nsIf = nsIf;
        this.hostAddress = address(subnet, 1);
        this.nsAddress = address(subnet, 2);
    }

    /** A new namespace with its link up; {@link #close()} it (in a finally or an @AfterAll). */
    public static NetNamespace create() {
        if (!OwnedDirs.runningAsRoot()) {
            throw new IllegalStateException("a network namespace needs root (ip netns add): run the tests as root,"
                    + " as CI does");
        }
        reapStale();
        long pid = ProcessHandle.current().pid();
        int n = COUNTER.incrementAndGet();
        String suffix = Long.toString(pid, 36) + "-" + n;
        // the pid keeps live JVMs apart; addresses already on this machine are skipped all the same
        String taken = ip("-4", "-o", "addr", "show").orThrow().stdout();
        int subnet = (int) ((pid * 31 + n) % 16384);
        for (int i = 0; i < 16384 && taken.contains(" " + address(subnet, 1) + "/"); i++) {
            subnet = (subnet + 1) % 16384;
        }
        NetNamespace ns = new NetNamespace(PREFIX + pid + "-" + n, "tnh" + suffix, "tnn" + suffix, subnet);
        try {
            ns.setUp();
        } catch (RuntimeException | Error e) {
            ns.close();
            throw e;
        }
        log.info("network namespace {}: {} {} <-> {} {}", ns.name, ns.hostIf, ns.hostAddress, ns.nsIf, ns.nsAddress);
        return ns;
    }

    /** Host {@code host} (1: the host's end, 2: the namespace's) of the {@code subnet}-th /30 of 10.213.0.0/16. */
    private static String address(int subnet, int host) {
        int base = subnet * 4;
        return "10.213." + (base >> 8) + "." + ((base & 0xff) + host);
    }

    private void setUp() {
        ip("netns", "add", name).orThrow();
        ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf).orThrow();
        ip("link", "set", nsIf, "netns", name).orThrow();
        ip("addr", "add", hostAddress + "/30", "dev", hostIf).orThrow();
        ip("link", "set", hostIf, "up").orThrow();
        ip("-n", name, "addr", "add", nsAddress + "/30", "dev", nsIf).orThrow();
        ip("-n", name, "link", "set", "lo", "up").orThrow(); // the namespace's own loopback, not the host's
        ip("-n", name, "link", "set", nsIf, "up").orThrow();
    }

    public String name() {
        return name;
    }

    /** The address of the host's end: where connections from the host to {@link #nsAddress()} come from. */
    public String hostAddress() {
        return hostAddress;
    }

    /** The address of the namespace's end, where a server inside listens. */
    public String nsAddress() {
        return nsAddress;
    }

    /** The prefix that runs a command inside the namespace ({@code ip netns exec <name>}). */
    public List<String> execPrefix() {
        return List.of(ipBinary(), "netns", "exec", name);
    }

    /** Cuts the link: the namespace's end goes down, so packets either way are dropped silently. */
    public void cut() {
        ip("-n", name, "link", "set", nsIf, "down").orThrow();
    }

    /** Brings the link back up after {@link #cut()}. */
    public void restore() {
        ip("-n", name, "link", "set", nsIf, "up").orThrow();
    }

    /** Deletes the namespace and the veth pair. Stop what runs inside first, or the namespace outlives its name. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        ip("link", "del", hostIf); // may be gone already, or never made
        Processes.Result r = ip("netns", "del", name);
        if (!r.ok() && !r.stderr().contains("No such file")) {
            log.warn("could not delete network namespace {}: {}", name, r.stderr().strip());
        }
    }

    @Override
    public String toString() {
        return "NetNamespace[" + name + ", " + hostAddress + " <-> " + nsAddress + "]";
    }

    /** Deletes the namespaces of JVMs that are gone (killed before their @AfterAll), once per JVM. */
    private static synchronized void reapStale() {
        if (reaped) {
            return;
        }
        reaped = true;
        for (String line : ip("netns", "list").orThrow().stdout().split("\n")) {
            String ns = line.split(" ")[0];
            if (!ns.startsWith(PREFIX)) {
                continue;
            }
            String[] parts = ns.substring(PREFIX.length()).split("-");
            try {
                if (ProcessHandle.of(Long.parseLong(parts[0])).isEmpty()) {
                    log.info("removing stale network namespace {}", ns);
                    ip("netns", "del", ns);
                }
            } catch (NumberFormatException e) {
                // not one of ours
            }
        }
    }

    private static Processes.Result ip(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ipBinary());
        cmd.addAll(List.of(args));
        return Processes.run(IP_TIMEOUT, cmd);
    }

    /** iproute2's ip: sbin may be missing from a non-login PATH. */
    private static String ipBinary() {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            Path p = Path.of(dir, "ip");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IllegalStateException("iproute2's ip is missing (apt-get install iproute2)");
    }
}
