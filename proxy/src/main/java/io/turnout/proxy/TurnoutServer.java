package io.turnout.proxy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.turnout.config.TurnoutConfig;
import io.turnout.protocol.auth.ScramSecret;
import io.turnout.proxy.client.CancelRegistry;
import io.turnout.proxy.client.ClientConnection;
import io.turnout.proxy.net.Transports;
import io.turnout.proxy.pool.Pools;
import java.net.InetSocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A running Turnout: event loops, the listener, pools and the cancel registry, wired explicitly. */
public final class TurnoutServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TurnoutServer.class);

    private final TurnoutConfig config;
    private final Transports transports;
    private final Pools pools;
    private final CancelRegistry cancels;
    private final AtomicInteger clientCount = new AtomicInteger();
    /** Every client and server channel, so stopping closes them all deterministically. */
    private final ChannelGroup channels = new DefaultChannelGroup("turnout", GlobalEventExecutor.INSTANCE);
    /** SCRAM verifiers derived from plain auth_file passwords: PBKDF2 once per user, not per login. */
    private final ConcurrentHashMap<String, ScramSecret> scramSecrets = new ConcurrentHashMap<>();
    private Channel listener;

    private TurnoutServer(TurnoutConfig config) {
        this.config = config;
        this.transports = new Transports(config.workers());
        this.pools = new Pools(config, transports, channels);
        this.cancels = new CancelRegistry(transports);
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
        log.info("turnout_listening addr={} port={} transport={} loops={} databases={}", config.listenAddr(), port(),
                transports.isEpoll() ? "epoll" : "nio", transports.size(), config.databases().keySet());
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    public TurnoutConfig config() {
        return config;
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

    @Override
    public void close() {
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        channels.close().awaitUninterruptibly(5, java.util.concurrent.TimeUnit.SECONDS);
        transports.close();
    }
}
