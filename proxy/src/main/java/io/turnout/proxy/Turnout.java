package io.turnout.proxy;

import io.turnout.config.ConfigException;
import io.turnout.config.ConfigLoader;
import io.turnout.config.TurnoutConfig;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Command line entry point: {@code turnout --config FILE}. */
public final class Turnout {
    private static final String USAGE = """
            usage: turnout --config FILE
                   turnout --help | --version

            Turnout is a PostgreSQL connection pooler. FILE is a YAML file whose keys follow PgBouncer's
            names (listen_addr, listen_port, auth_type, auth_file, pool_mode, default_pool_size, databases...).
            See README.md.
            """;

    private Turnout() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
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
        TurnoutServer server;
        try {
            server = TurnoutServer.start(config);
        } catch (Exception e) {
            System.err.println("turnout: cannot listen on " + config.listenAddr() + ":" + config.listenPort() + ": " + e);
            return 1;
        }
        log.info("turnout_started version={} config={}", version(), configFile.toAbsolutePath());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("turnout_stopping");
            server.close();
        }, "turnout-shutdown"));
        // SIGTERM drains (the load balancer's deregistration, then the clients leave); a second SIGTERM, or
        // SIGINT, stops at once
        java.util.concurrent.atomic.AtomicBoolean terminating = new java.util.concurrent.atomic.AtomicBoolean();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), sig -> {
            if (terminating.getAndSet(true)) {
                log.info("turnout_stopping signal=TERM note=\"second SIGTERM: stopping now\"");
                new Thread(server::close, "turnout-stop").start();
            } else {
                server.drain();
            }
        });
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), sig -> {
            log.info("turnout_stopping signal=INT");
            new Thread(server::close, "turnout-stop").start();
        });
        sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> {
            try {
                server.reload();
            } catch (ConfigException e) {
                log.error("config_reload_failed signal=HUP error=\"{}\"", e.getMessage());
            }
        });
        server.terminated().join();
        return 0;
    }

    static String version() {
        return TurnoutServer.version();
    }
}
