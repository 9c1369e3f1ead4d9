package io.turnout.proxy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.turnout.config.ConfigException;
import io.turnout.config.Transport;
import io.turnout.config.TurnoutConfig;
import io.turnout.config.topology.ConsulSource;
import io.turnout.config.topology.EtcdSource;
import io.turnout.config.topology.TopologySource;
import io.turnout.proxy.admin.AdminConsole;
import io.turnout.proxy.admin.Pooler;
import io.turnout.proxy.admin.Snapshot;
import io.turnout.proxy.admin.SnapshotCollector;
import io.turnout.proxy.admin.StatsHistory;
import io.turnout.proxy.client.CancelRegistry;
import io.turnout.proxy.client.ClientHandler;
import io.turnout.proxy.client.Clients;
import io.turnout.proxy.metrics.HttpEndpoint;
import io.turnout.proxy.metrics.Metrics;
import io.turnout.proxy.metrics.MetricsSource;
import io.turnout.proxy.net.ProxyProtocol;
import io.turnout.proxy.net.ShutdownInputOnCloseHandler;
import io.turnout.proxy.net.TcpOptions;
import io.turnout.proxy.net.Transports;
import io.turnout.proxy.pool.Pools;
import io.turnout.proxy.pool.TopologyApplier;
import io.turnout.proxy.tls.StartupNegotiation;
import io.turnout.proxy.tls.TlsContexts;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running Turnout and its composition root: builds the rooms (transports, pools, clients, admin console,
 * metrics) and wires them through the narrow interfaces each room defines for what it needs of the rest
 * ({@link Clients}, {@link io.turnout.proxy.client.ConsoleSession}, {@link Pooler}, {@link MetricsSource}),
 * so no class below this one imports it. It owns what spans the rooms: the running configuration and its
 * reload, the listener, SUSPEND, readiness and stopping.
 */
public final class TurnoutServer implements Pooler, MetricsSource, AutoCloseable {
    /** This build's version (from the jar's manifest; "dev" when run from classes). */
    public static final String VERSION = readVersion();
    private static final Logger log = LoggerFactory.getLogger(TurnoutServer.class);

    private volatile TurnoutConfig config;
    /** The TLS contexts of the running configuration; a RELOAD swaps them (new handshakes only). */
    private volatile TlsContexts tls;
    private final Transports transports;
    private final Pools pools;
    private final Clients clients;
    /** Every client and server channel, so stopping closes them all deterministically. */
    private final ChannelGroup channels = new DefaultChannelGroup("turnout", GlobalEventExecutor.INSTANCE);
    private Channel listener;
    private final SnapshotCollector snapshots;
    private final StatsHistory statsHistory = new StatsHistory();
    private final long startedEpochMillis = System.currentTimeMillis();
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private final Metrics metrics;
    private final TopologyApplier topology;
    private HttpEndpoint http;
    private volatile boolean suspended;
    private final Shutdown shutdown;
    private ConfigUpdates updates;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    private TurnoutServer(TurnoutConfig config) {
        this.config = config;
        try {
            this.tls = TlsContexts.build(config.tls());
        } catch (ConfigException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        this.transports = new Transports(config.workers(), config.network().transport());
        this.pools = new Pools(config, transports, channels);
        pools.tls(() -> tls);
        CancelRegistry cancels = new CancelRegistry(transports, config.network(),
                () -> this.config.pool().clientLimits().cancelWaitTimeout());
        this.snapshots = new SnapshotCollector(transports, channels, pools);
        this.topology = new TopologyApplier(pools, topologySource(config), () -> this.config);
        this.clients = new Clients(() -> this.config, pools, cancels, topology::scopeExists,
                (channel, user, fullAccess, fatal) -> new AdminConsole(this, channel, user, fullAccess, fatal));
        this.shutdown = new Shutdown(() -> this.config.network(), () -> listener, pools, snapshots,
                transports.loops().get(0), this::close);
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
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        channels.add(ch);
                        ShutdownInputOnCloseHandler.guard(ch); // before SslHandler
                        if (config.network().proxyProtocol()) {
                            ch.pipeline().addLast("proxy-protocol", new ProxyProtocol(config.network().proxyTrusted()));
                        }
                        ch.pipeline().addLast("negotiation",
                                new StartupNegotiation(() -> tls, config.pool().clientLoginTimeout()));
                        ch.pipeline().addLast(new ClientHandler(clients));
                    }
                });
        TcpOptions.applyToChildren(b, config.network(), transports.kind());
        transports.readFromRing(b);
        if (config.network().soReuseport()) {
            TcpOptions.reusePort(b, transports.kind());
        }
        // before the listener: the console's RELOAD/SET may come with the first client
        updates = new ConfigUpdates(() -> this.config, this::apply);
        listener = b.bind(config.listenAddr(), config.listenPort()).sync().channel();
        pools.startJanitors();
        topology.start();
        tickStats();
        if (metrics != null) {
            try {
                http = new HttpEndpoint(this, metrics, config.metricsAddr(), config.metricsPort());
            } catch (java.io.IOException e) {
                throw new IllegalStateException("cannot listen on " + config.metricsAddr() + ":" + config.metricsPort()
                        + " (metrics_port): " + e.getMessage(), e);
            }
        }
        log.info("turnout_listening addr={} port={} transport={} buffer_ring={} loops={} databases={}",
                config.listenAddr(), port(), transports.kind().key(), transports.bufferRing(), transports.size(),
                config.databases().keySet());
        log.info("tls_engine engine=\"{}\" client_tls_sslmode={} server_tls_sslmode={}", TlsContexts.engine(),
                config.tls().clientMode().key(), config.tls().serverMode().key());
    }

    /** The transport running (io_uring, epoll or nio), after any fallback. */
    public Transport transport() {
        return transports.kind();
    }

    /** Whether io_uring sockets read from the loops' provided buffer rings (false on epoll and NIO). */
    public boolean bufferRing() {
        return transports.bufferRing();
    }

    /** The open client and server sockets, a copy: where tests and diagnostics read their socket options. */
    public java.util.List<Channel> openChannels() {
        return java.util.List.copyOf(channels);
    }

    @Override
    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    @Override
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

    @Override
    public SnapshotCollector snapshots() {
        return snapshots;
    }

    @Override
    public StatsHistory statsHistory() {
        return statsHistory;
    }

    @Override
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
    @Override
    public java.util.List<String> readiness() {
        java.util.List<String> problems = new java.util.ArrayList<>();
        if (shutdown.started()) {
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

    @Override
    public boolean suspended() {
        return suspended;
    }

    public boolean shuttingDown() {
        return shutdown.started();
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
     * throws and the running configuration stays.
     */
    @Override
    public void reload() throws ConfigException {
        updates.reload();
    }

    /** SET key = value from the console, validated like the same line in the file. */
    @Override
    public void set(String key, String value) throws ConfigException {
        updates.set(key, value);
    }

    /** SHUTDOWN [WAIT_FOR_SERVERS | WAIT_FOR_CLIENTS] (see {@link Shutdown}). */
    @Override
    public void shutdown(String mode) {
        shutdown.shutdown(mode);
    }

    /** SIGTERM: the graceful drain for a load balancer in front (see {@link Shutdown#drain}). */
    public void drain() {
        shutdown.drain();
    }

    /** The TLS contexts new handshakes use. */
    public TlsContexts tls() {
        return tls;
    }

    private void apply(TurnoutConfig next) throws ConfigException {
        TlsContexts nextTls = TlsContexts.build(next.tls()); // re-reads the files: rotation; a bad one keeps all as is
        TurnoutConfig current = config;
        if (!next.listenAddr().equals(current.listenAddr()) || next.listenPort() != current.listenPort()
                || next.workers() != current.workers() || next.metricsPort() != current.metricsPort()) {
            log.warn("config_needs_restart keys=listen_addr,listen_port,workers,metrics_port note=\"kept the running values\"");
        }
        if (!java.util.Objects.equals(next.consul(), current.consul())
                || !java.util.Objects.equals(next.etcd(), current.etcd())) {
            log.warn("config_needs_restart keys=consul,etcd note=\"kept the running DCS settings\"");
        }
        if (next.network().transport() != current.network().transport()) {
            log.warn("config_needs_restart keys=transport note=\"kept the running transport\"");
        }
        config = next;
        tls = nextTls;
        pools.reconfigure(next);
        topology.refresh();
    }

    /** SUSPEND stops accepting and reading client sockets (admin consoles excepted); RESUME undoes it. */
    @Override
    public void suspend(boolean suspend) {
        suspended = suspend;
        listener.config().setAutoRead(!suspend);
        snapshots.act(i -> !i.server() && !i.admin(), h -> ((ClientHandler) h).suspend(suspend));
    }

    @Override
    public Pools pools() {
        return pools;
    }

    /** Client connections counted against max_client_conn. */
    public AtomicInteger clientCount() {
        return clients.count();
    }

    @Override
    public int clientConnections() {
        return clients.count().get();
    }

    @Override
    public CompletableFuture<Snapshot> snapshot() {
        return snapshots.collect();
    }

    @Override
    public String topologySource() {
        return topology.sourceKind();
    }

    @Override
    public boolean stopped() {
        return terminated.isDone();
    }

    /** Resolves when the listener closes. */
    public Channel listener() {
        return listener;
    }

    @Override
    public String version() {
        return VERSION;
    }

    private static String readVersion() {
        String v = TurnoutServer.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            terminated.join(); // SHUTDOWN already stopping it: wait for that
            return;
        }
        shutdown.markStopping();
        if (http != null) {
            http.close();
        }
        topology.close();
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        channels.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        pools.shutdown(); // queued on the loops, which run it before they stop
        transports.close();
        terminated.complete(null);
    }
}
