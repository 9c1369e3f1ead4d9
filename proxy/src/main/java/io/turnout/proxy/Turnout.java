package io.turnout.proxy;

import io.turnout.config.ConfigException;
import io.turnout.config.ConfigLoader;
import io.turnout.config.PgBouncerIniImporter;
import io.turnout.config.TurnoutConfig;
import java.nio.file.Path;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Command line entry point: {@code turnout --config FILE}, {@code turnout import-pgbouncer INI [USERLIST]}. */
public final class Turnout {
    private static final String USAGE = """
            usage: turnout --config FILE
                   turnout import-pgbouncer PGBOUNCER_INI [USERLIST] > turnout.yaml
                   turnout --help | --version

            Turnout is a PostgreSQL connection pooler. FILE is a YAML file whose keys follow PgBouncer's
            names (listen_addr, listen_port, auth_type, auth_file, pool_mode, default_pool_size, databases...).
            See README.md.

            import-pgbouncer prints a turnout.yaml equivalent to a pgbouncer.ini (following %include) on
            stdout, and on stderr one warning line per setting it cannot carry over, naming file:line,
            [section] and key. USERLIST, PgBouncer's auth_file, is checked too. Exit status 0 when the ini was
            read, warnings or not; 2 when it cannot be read or PgBouncer itself would refuse it.
            """;

    private Turnout() {
    }

    public static void main(String[] args) {
        if (System.getProperty("io.netty.buffer.checkAccessible") == null) {
            // a released buffer is a bug the PARANOID tests catch; in production its check is a refCnt
            // read on every buffer access (set before the first ByteBuf class loads)
            System.setProperty("io.netty.buffer.checkAccessible", "false");
        }
        if (System.getProperty("io.netty.leakDetection.level") == null) {
            // Netty's default samples 1 buffer in 128 with a stack trace (over 1% of the data path's CPU);
            // the tests run at PARANOID instead, and -Dio.netty.leakDetection.level=simple brings it back.
            io.netty.util.ResourceLeakDetector.setLevel(io.netty.util.ResourceLeakDetector.Level.DISABLED);
        }
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length > 0 && args[0].equals("import-pgbouncer")) {
            return importPgBouncer(Arrays.copyOfRange(args, 1, args.length));
        }
        Path configFile = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--help", "-h" -> {
                    System.out.print(USAGE);
                    return 0;
                }
                case "--version", "-V" -> {
                    System.out.println("turnout " + version());
                    return 0;
                }
                case "--config", "-c" -> {
                    if (i + 1 >= args.length) {
                        System.err.println("turnout: --config needs a file name");
                        return 2;
                    }
                    configFile = Path.of(args[++i]);
                }
                default -> {
                    System.err.println("turnout: unknown argument '" + args[i] + "'\n" + USAGE);
                    return 2;
                }
            }
        }
        if (configFile == null) {
            System.err.print("turnout: --config FILE is required\n" + USAGE);
            return 2;
        }
        TurnoutConfig config;
        try {
            config = ConfigLoader.load(configFile);
        } catch (ConfigException e) {
            System.err.println("turnout: invalid configuration: " + e.getMessage());
            return 2;
        }
        Logger log = LoggerFactory.getLogger(Turnout.class);
        String heap = HeapReturn.apply();
        if (!heap.isEmpty()) {
            log.info("jvm_heap_return {}", heap);
        }
        // before the listener opens: whoever can reach the console can also signal this process
        SignalHandlers signals = SignalHandlers.install();
        TurnoutServer server;
        try {
            server = TurnoutServer.start(config);
        } catch (Exception e) {
            signals.failed(e);
            System.err.println("turnout: cannot listen on " + config.listenAddr() + ":" + config.listenPort() + ": " + e);
            return 1;
        }
        log.info("turnout_started version={} config={}", version(), configFile.toAbsolutePath());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("turnout_stopping");
            server.close();
        }, "turnout-shutdown"));
        signals.started(server);
        server.terminated().join();
        return 0;
    }

    /** stdout carries only the YAML, so {@code > turnout.yaml} captures a file that loads as it is printed. */
    private static int importPgBouncer(String[] args) {
        if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.print(USAGE);
            return 0;
        }
        if (args.length < 1 || args.length > 2 || args[0].startsWith("-") || args[args.length - 1].startsWith("-")) {
            System.err.print("turnout: import-pgbouncer takes PGBOUNCER_INI [USERLIST]\n" + USAGE);
            return 2;
        }
        PgBouncerIniImporter.Result result;
        try {
            result = PgBouncerIniImporter.importFile(Path.of(args[0]), args.length > 1 ? Path.of(args[1]) : null);
        } catch (ConfigException e) {
            System.err.println("turnout: import-pgbouncer: " + e.getMessage());
            return 2;
        }
        System.out.print(result.yaml());
        System.out.flush();
        for (PgBouncerIniImporter.Warning w : result.warnings()) {
            System.err.println("warning: " + w);
        }
        System.err.println("turnout: import-pgbouncer: " + result.warnings().size()
                + " warning(s); review them and the result before putting it to use");
        return 0;
    }

    static String version() {
        return TurnoutServer.VERSION;
    }
}
