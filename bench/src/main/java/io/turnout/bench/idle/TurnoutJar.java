package io.turnout.bench.idle;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * proxy/target/turnout.jar as a process of its own (its RSS is Turnout's alone), with its memory readings;
 * bench/idle's and bench/hostile's.
 */
public final class TurnoutJar implements AutoCloseable {
    public record Memory(long rssKib, long heapKib) {
    }

    private final Process process;
    private final int port;

    private TurnoutJar(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    static TurnoutJar start(Options o, PgServer pg, Path dir) throws Exception {
        return start(pg, dir, IdleBench.USER, IdleBench.PASSWORD, "max_client_conn: " + (o.clients() + o.active() + 100)
                + "\nworkers: 0\ntransport: " + o.transport() + "\n", o.turnoutOpts());
    }

    /**
     * Writes {@code dir}/users.txt with {@code user} and turnout.yaml (SCRAM, transaction pooling, pool size 20,
     * {@code settings} lines, database app on {@code pg} as its superuser) and starts the jar on them.
     */
    public static TurnoutJar start(PgServer pg, Path dir, String user, String password, String settings,
                                   String turnoutOpts) throws Exception {
        Path users = dir.resolve("users.txt");
        Files.writeString(users, "\"" + user + "\" \"" + password + "\"\n");
        Files.setPosixFilePermissions(users, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        Path config = dir.resolve("turnout.yaml");
        Files.writeString(config, """
                listen_addr: 127.0.0.1
                listen_port: 0
                auth_type: scram-sha-256
                auth_file: users.txt
                pool_mode: transaction
                default_pool_size: 20
                %sdatabases:
                  %s: { host: 127.0.0.1, port: %d, dbname: %s, user: postgres, password: postgres }
                """.formatted(settings, PgServer.APP_DB, pg.port(), PgServer.APP_DB));
        return launch(config, turnoutOpts);
    }

    /** Starts the jar (system property turnout.jar) on {@code config}, logging to turnout.log beside it. */
    public static TurnoutJar launch(Path config, String turnoutOpts) throws Exception {
        Path jar = Path.of(System.getProperty("turnout.jar", "proxy/target/turnout.jar")).toAbsolutePath();
        if (!Files.exists(jar)) {
            throw new IllegalStateException(jar + " is missing (run the bench script with --build)");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        if (!turnoutOpts.isEmpty()) {
            cmd.addAll(List.of(turnoutOpts.split("\\s+")));
        }
        cmd.addAll(List.of("-jar", jar.toString(), "--config", config.toString()));
        Path log = config.resolveSibling("turnout.log");
        // setsid: a session of its own, as bench/race gives it (autogroup scheduling, see there)
        cmd.add(0, "setsid");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Pattern listening = Pattern.compile("turnout_listening addr=\\S+ port=(\\d+) transport=(\\S+)");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = listening.matcher(Files.readString(log));
            if (m.find()) {
                log("Turnout pid " + p.pid() + " on port " + m.group(1) + ", transport=" + m.group(2));
                return new TurnoutJar(p, Integer.parseInt(m.group(1)));
            }
            if (!p.isAlive()) {
                break;
            }
            Thread.sleep(100);
        }
        Processes.destroyTree(p);
        throw new IllegalStateException("Turnout did not start; " + log + ":\n" + Files.readString(log));
    }

    public int port() {
        return port;
    }

    /** RSS from /proc, heap used after a full GC: what the process holds, not garbage waiting for a collection. */
    public Memory memory() throws IOException {
        long pid = javaPid();
        Processes.run(Duration.ofSeconds(120), List.of("jcmd", String.valueOf(pid), "GC.run")).orThrow();
        String heap = Processes.run(Duration.ofSeconds(60), List.of("jcmd", String.valueOf(pid), "GC.heap_info"))
                .orThrow().stdout();
        Matcher m = Pattern.compile("used (\\d+)K").matcher(heap);
        if (!m.find()) {
            throw new IllegalStateException("no heap figure in jcmd GC.heap_info:\n" + heap);
        }
        return new Memory(rssKib(), Long.parseLong(m.group(1)));
    }

    /** Resident set size now, from /proc (no GC first). */
    public long rssKib() throws IOException {
        long pid = javaPid();
        Matcher rss = Pattern.compile("VmRSS:\\s+(\\d+) kB").matcher(Files.readString(Path.of("/proc", pid + "", "status")));
        if (!rss.find()) {
            throw new IllegalStateException("no VmRSS for pid " + pid);
        }
        return Long.parseLong(rss.group(1));
    }

    /** Client sockets Turnout holds (established to its port). */
    int establishedClients() {
        String out = Processes.run(Duration.ofSeconds(60), List.of("ss", "-Htn", "state", "established",
                "( sport = :" + port + " )")).orThrow().stdout();
        return (int) out.lines().filter(l -> !l.isBlank()).count();
    }

    /** The java process under setsid (setsid execs it when it is not a group leader, so usually the same pid). */
    private long javaPid() {
        return process.descendants().findFirst().map(ProcessHandle::pid).orElse(process.pid());
    }

    @Override
    public void close() {
        Processes.destroyTree(process);
        log("Turnout stopped");
    }

    private static void log(String s) {
        System.err.printf("[turnout %tT] %s%n", java.time.LocalTime.now(), s);
    }
}
