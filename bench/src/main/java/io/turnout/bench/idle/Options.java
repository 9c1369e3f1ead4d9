package io.turnout.bench.idle;

/** bench/idle's command line. */
record Options(int clients, int active, int duration, int rounds, int warmup, String turnoutOpts, String transport,
        boolean keep) {
    static final String USAGE = """
            usage: bench/idle [options]

            Opens logged-in idle clients (SCRAM, then nothing) to Turnout and reports Turnout's RSS and heap per idle
            client, and the TPS of active pgbench -S clients with the idle ones against the mean of a run before they
            logged in and one after they left, the median over rounds (the idle clients log in and leave once a
            round). Turnout runs from proxy/target/turnout.jar as a process of its own.

              --clients N          idle clients (default 10000; 50000 needs `ulimit -n` above 50100: the script
                                   raises it as far as the hard limit allows)
              --active N           active pgbench clients (default 50)
              --duration SECONDS   pgbench -T of each run (default 15)
              --rounds N           rounds of (log in the idle clients, run with them, close them, run without);
                                   the ratio is the median of the rounds' (default 3: 7 runs in all)
              --warmup SECONDS     untimed pgbench before the first run: the JIT (default 15)
              --turnout-opts OPTS  JVM options for Turnout, e.g. "-Xmx512m"
              --transport T        Turnout's transport key: auto, io_uring, epoll, nio (default auto)
              --keep               keep the scratch directory (turnout.yaml, turnout.log)
              --build              rebuild bench/target/benchmarks.jar and proxy/target/turnout.jar
              --help               this text

            The last line: idle: clients=N rss_per_client_kib=R heap_per_client_kib=R tps_idle_ratio=R
            (RSS and heap: the growth from before the idle clients logged in to after, divided by their number;
            heap is measured after a full GC (jcmd GC.run), both in round 1; tps_idle_ratio: the median over the
            rounds of TPS with them / the mean of the runs without them just before and just after).
            """;

    /** The options, or null after printing the usage. */
    static Options parse(String[] args) {
        int clients = 10_000;
        int active = 50;
        int duration = 15;
        int rounds = 3;
        int warmup = 15;
        String opts = "";
        String transport = "auto";
        boolean keep = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--clients" -> clients = positive(a, value(args, ++i, a));
                case "--active" -> active = positive(a, value(args, ++i, a));
                case "--duration" -> duration = positive(a, value(args, ++i, a));
                case "--rounds" -> rounds = positive(a, value(args, ++i, a));
                case "--warmup" -> warmup = Integer.parseInt(value(args, ++i, a));
                case "--turnout-opts" -> opts = value(args, ++i, a);
                case "--transport" -> transport = value(args, ++i, a);
                case "--keep" -> keep = true;
                case "-h", "--help" -> {
                    System.out.print(USAGE);
                    return null;
                }
                default -> throw usage("unknown argument '" + a + "'");
            }
        }
        if (!java.util.List.of("auto", "io_uring", "epoll", "nio").contains(transport)) {
            throw usage("--transport takes auto, io_uring, epoll or nio, got '" + transport + "'");
        }
        if (10 + rounds * IdleClients.sources(clients) > 255) { // each round logs in from addresses of its own
            throw usage("--clients " + clients + " for " + rounds + " rounds needs more than 127.0.0.10-255: fewer of either");
        }
        return new Options(clients, active, duration, rounds, warmup, opts.trim(), transport, keep);
    }

    private static String value(String[] args, int i, String name) {
        if (i >= args.length) {
            throw usage(name + " needs a value");
        }
        return args[i];
    }

    private static int positive(String name, String v) {
        try {
            int n = Integer.parseInt(v);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw usage(name + " must be a positive whole number, got '" + v + "'");
    }

    private static IllegalArgumentException usage(String message) {
        return new IllegalArgumentException("idle: " + message + " (see --help)");
    }
}
