package io.turnout.proxy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.turnout.config.ConfigException;
import io.turnout.config.ConfigLoader;
import io.turnout.config.TurnoutConfig;
import io.turnout.protocol.auth.ScramSecret;
import io.turnout.proxy.admin.Snapshot;
import io.turnout.proxy.admin.SnapshotCollector;
import io.turnout.proxy.admin.StatsHistory;
import io.turnout.proxy.client.CancelRegistry;
import io.turnout.proxy.metrics.HttpEndpoint;
import io.turnout.proxy.metrics.Metrics;
import io.turnout.proxy.client.ClientConnection;
import io.turnout.proxy.net.Transports;
import io.turnout.proxy.pool.ConnectionInfo;
import io.turnout.proxy.pool.Pools;
import io.turnout.proxy.pool.TopologyApplier;
import io.turnout.config.topology.ConsulSource;
import io.turnout.config.topology.EtcdSource;
import io.turnout.config.topology.TopologySource;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A running Turnout: event loops, the listener, pools and the cancel registry, wired explicitly. */
public final class TurnoutServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TurnoutServer.class);

    private volatile TurnoutConfig config;
    /** The YAML the running configuration came from, and the SET overrides applied on top of it. */
    private String configText;
    private final java.util.Map<String, String> overrides = new java.util.LinkedHashMap<>();
    private final Transports transports;
    private final Pools pools;
    private final CancelRegistry cancels;
    private final AtomicInteger clientCount = new AtomicInteger();
    /** Every client and server channel, so stopping closes them all deterministically. */
    private final ChannelGroup channels = new DefaultChannelGroup("turnout", GlobalEventExecutor.INSTANCE);
    /** SCRAM verifiers derived from plain auth_file passwords: PBKDF2 once per user, not per login. */
    private final ConcurrentHashMap<String, ScramSecret> scramSecrets = new ConcurrentHashMap<>();
    private Channel listener;
    private final SnapshotCollector snapshots;
    private final StatsHistory statsHistory = new StatsHistory();
    private final long startedEpochMillis = System.currentTimeMillis();
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private final Metrics metrics;
    private final TopologyApplier topology;
    private HttpEndpoint http;
    private volatile boolean suspended;
    private volatile boolean shuttingDown;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    private TurnoutServer(TurnoutConfig config) {
        this.config = config;
        this.transports = new Transports(config.workers());
        this.pools = new Pools(config, transports, channels);
        this.cancels = new CancelRegistry(transports);
        this.snapshots = new SnapshotCollector(transports, channels, pools);
        this.topology = new TopologyApplier(pools, topologySource(config), () -> this.config);
        this.metrics = config.metricsPort() >= 0 ? new Metrics(this) : null;
        if (metrics != null) {
            pools.waitRecorders(metrics::waitRecorder);
        }
    }

    public static TurnoutServer start(TurnoutConfig config) throws InterruptedException {
        TurnoutServer server = new TurnoutServer(config);
        try {
            server.bind();
        } catch (RuntimeException | InterruptedException e) {
            server.close();
            throw e;
        }
        return server;
    }

    private void bind() throws InterruptedException {
        ServerBootstrap b = new ServerBootstrap()
                .group(transports.group())
                .channel(transports.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        channels.add(ch);
                        ch.pipeline().addLast(new ClientConnection(TurnoutServer.this));
                    }
                });
        listener = b.bind(config.listenAddr(), config.listenPort()).sync().channel();
        pools.startJanitors();
        topology.start();
        configText = readConfigText(config);
        tickStats();
        if (metrics != null) {
            try {
                http = new HttpEndpoint(this, metrics, config.metricsAddr(), config.metricsPort());
            } catch (java.io.IOException e) {
                throw new IllegalStateException("cannot listen on " + config.metricsAddr() + ":" + config.metricsPort()
                        + " (metrics_port): " + e.getMessage(), e);
            }
        }
        log.info("turnout_listening addr={} port={} transport={} loops={} databases={}", config.listenAddr(), port(),
                transports.isEpoll() ? "epoll" : "nio", transports.size(), config.databases().keySet());
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    public TurnoutConfig config() {
        return config;
    }

    /** Where Patroni databases' leaders come from (a no-op when no database follows Patroni). */
    public TopologyApplier topology() {
        return topology;
    }

    private static TopologySource topologySource(TurnoutConfig config) {
        try {
            if (config.etcd() != null) {
                return new EtcdSource(config.etcd());
            }
            return config.consul() == null ? null : new ConsulSource(config.consul());
        } catch (java.io.IOException | java.security.GeneralSecurityException e) {
            String dcs = config.etcd() != null ? "etcd" : "consul";
            throw new IllegalStateException(dcs + ": cannot set up the " + dcs + " client: " + e.getMessage(), e);
        }
    }

    public SnapshotCollector snapshots() {
        return snapshots;
    }

    public StatsHistory statsHistory() {
        return statsHistory;
    }

    public long startedEpochMillis() {
        return startedEpochMillis;
    }

    /** The HTTP port of /metrics, /health and /ready, or -1 when metrics_port is not set. */
    public int httpPort() {
        return http != null ? http.port() : -1;
    }

    /**
     * Why this instance should not get new clients from the load balancer; empty when it should:
     * listening, not draining or suspended, and every database knows where its server is.
     */
    public java.util.List<String> readiness() {
        java.util.List<String> problems = new java.util.ArrayList<>();
        if (shuttingDown) {
            problems.add("draining");
        } else if (listener == null || !listener.isActive()) {
            problems.add("not listening");
        }
        if (suspended) {
            problems.add("suspended");
        }
        for (String db : topology.leaderless()) {
            problems.add("no leader for database " + db);
        }
        return problems;
    }

    public boolean suspended() {
        return suspended;
    }

    public boolean shuttingDown() {
        return shuttingDown;
    }

    /** Completes when this Turnout has stopped (SHUTDOWN, close()). */
    public CompletableFuture<Void> terminated() {
        return terminated;
    }

    /** Records the counters every stats_period, for SHOW STATS averages. */
    private void tickStats() {
        snapshots.collect().thenAccept(statsHistory::tick);
        long period = Math.max(100, config.statsPeriod().toMillis());
        try {
            transports.loops().get(0).schedule(this::tickStats, period, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // stopping
        }
    }

    /**
     * RELOAD (and SIGHUP): re-reads the file and applies it without dropping a client; an invalid file
     * throws and the running configuration stays. SET overrides are dropped, as PgBouncer's are.
     */
    public synchronized void reload() throws ConfigException {
        TurnoutConfig current = config;
        if (current.source() == null) {
            throw new ConfigException("no configuration file to reload");
        }
        String text;
        try {
            text = java.nio.file.Files.readString(current.source());
        } catch (java.io.IOException e) {
            throw new ConfigException(current.source() + ": cannot read config: " + e.getMessage(), e);
        }
        TurnoutConfig next = ConfigLoader.parse(text, current.source().toString(), current.source(), baseDir(current));
        apply(next);
        configText = text;
        overrides.clear();
        log.info("config_reloaded file={} databases={}", current.source(), next.databases().keySet());
    }

    /** SET key = value from the console: the running file text with that key replaced, validated the same way. */
    public synchronized void set(String key, String value) throws ConfigException {
        TurnoutConfig current = config;
        java.util.Map<String, String> next = new java.util.LinkedHashMap<>(overrides);
        next.put(key, value);
        String name = current.source() != null ? current.source().toString() : "config";
        apply(ConfigLoader.parse(configText, name, current.source(), baseDir(current), next));
        overrides.put(key, value);
    }

    private void apply(TurnoutConfig next) {
        TurnoutConfig current = config;
        if (!next.listenAddr().equals(current.listenAddr()) || next.listenPort() != current.listenPort()
                || next.workers() != current.workers() || next.metricsPort() != current.metricsPort()) {
            log.warn("config_needs_restart keys=listen_addr,listen_port,workers,metrics_port note=\"kept the running values\"");
        }
        if (!java.util.Objects.equals(next.consul(), current.consul())
                || !java.util.Objects.equals(next.etcd(), current.etcd())) {
            log.warn("config_needs_restart keys=consul,etcd note=\"kept the running DCS settings\"");
        }
        config = next;
        pools.reconfigure(next);
        topology.refresh();
    }

    private static java.nio.file.Path baseDir(TurnoutConfig c) {
        return c.source() != null ? c.source().toAbsolutePath().getParent() : java.nio.file.Path.of(".");
    }

    private static String readConfigText(TurnoutConfig c) {
        try {
            return c.source() != null ? java.nio.file.Files.readString(c.source()) : null;
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /** SUSPEND stops accepting and reading client sockets (admin consoles excepted); RESUME undoes it. */
    public void suspend(boolean suspend) {
        suspended = suspend;
        listener.config().setAutoRead(!suspend);
        snapshots.act(i -> !i.server() && !i.admin(), h -> ((ClientConnection) h).suspend(suspend));
    }

    /**
     * SHUTDOWN: "" stops now; WAIT_FOR_SERVERS stops accepting, pauses, and stops once every server is
     * released; WAIT_FOR_CLIENTS stops accepting and stops once the last client has left.
     */
    public void shutdown(String mode) {
        shuttingDown = true;
        log.info("turnout_shutdown mode={}", mode.isEmpty() ? "immediate" : mode);
        if (mode.isEmpty()) {
            new Thread(this::close, "turnout-shutdown").start();
            return;
        }
        listener.close();
        if (mode.equals("WAIT_FOR_SERVERS")) {
            pools.setAllPaused(true);
        }
        awaitThenClose(mode.equals("WAIT_FOR_SERVERS")
                ? s -> s.servers().stream().allMatch(i -> i.state().equals("idle"))
                : s -> s.clients().stream().allMatch(ConnectionInfo::admin));
    }

    private void awaitThenClose(java.util.function.Predicate<Snapshot> done) {
        snapshots.collect().whenComplete((snap, error) -> {
            if (error != null || done.test(snap)) {
                new Thread(this::close, "turnout-shutdown").start();
            } else {
                transports.loops().get(0).schedule(() -> awaitThenClose(done), 100, TimeUnit.MILLISECONDS);
            }
        });
    }

    public Pools pools() {
        return pools;
    }

    public CancelRegistry cancels() {
        return cancels;
    }

    public AtomicInteger clientCount() {
        return clientCount;
    }

    public ScramSecret scramSecretFor(String user, String password) {
        // keyed by the password too, so a changed auth_file entry gets a new verifier
        return scramSecrets.computeIfAbsent(user + '\u0000' + password, k -> ScramSecret.fromPassword(password));
    }

    /** Resolves when the listener closes. */
    public Channel listener() {
        return listener;
    }

    public static String version() {
        String v = TurnoutServer.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            terminated.join(); // SHUTDOWN already stopping it: wait for that
            return;
        }
        shuttingDown = true;
        if (http != null) {
            http.close();
        }
        topology.close();
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        channels.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        transports.close();
        terminated.complete(null);
    }
}
