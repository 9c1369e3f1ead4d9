package io.turnout.proxy.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.turnout.config.SslMode;
import io.turnout.proxy.tls.TlsContexts;
import java.net.InetSocketAddress;
import java.time.Duration;

/** How one new server connection starts TLS: the contexts of the moment and its database's server_tls_sslmode. */
public record ServerTls(TlsContexts contexts, SslMode mode) {

    /** Null (plaintext) for disable and allow: libpq's allow tries plaintext first, and PostgreSQL rarely refuses it. */
    public static ServerTls of(TlsContexts contexts, SslMode mode) {
        return mode == SslMode.DISABLE || mode == SslMode.ALLOW ? null : new ServerTls(contexts, mode);
    }

    ChannelHandler initializer(ServerConnection server, InetSocketAddress address, Duration timeout) {
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.attr(io.turnout.proxy.tls.ChannelBinding.SERVER_POLICY).set(contexts.settings().serverChannelBinding());
                ch.pipeline().addLast("server-tls", new ServerTlsNegotiation(server, contexts, mode, address, timeout));
                ch.pipeline().addLast(server.handler);
            }
        };
    }
}
