package io.turnout.proxy.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslHandler;
import io.turnout.config.SslMode;
import io.turnout.proxy.tls.TlsContexts;
import io.turnout.proxy.tls.TlsHandshakes;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

/**
 * The start of a server connection under server_tls_sslmode prefer or stricter: SSLRequest, then on 'S'
 * a TLS handshake (verify-full checks the host name dialled), on 'N' plaintext unless TLS is required.
 * Holds back channelActive until then, so the server connection's login starts on the final transport.
 */
final class ServerTlsNegotiation extends ByteToMessageDecoder {
    private static final int SSL_REQUEST = 80877103;

    private final ServerConnection server;
    private final TlsContexts tls;
    private final SslMode mode;
    private final InetSocketAddress address;
    private final Duration timeout;
    private boolean answered;

    ServerTlsNegotiation(ServerConnection server, TlsContexts tls, SslMode mode, InetSocketAddress address,
                         Duration timeout) {
        this.server = server;
        this.tls = tls;
        this.mode = mode;
        this.address = address;
        this.timeout = timeout;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.writeAndFlush(ctx.alloc().buffer(8).writeInt(8).writeInt(SSL_REQUEST), ctx.voidPromise());
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (answered || !in.isReadable()) {
            return;
        }
        answered = true;
        byte answer = in.readByte();
        if (in.isReadable()) {
            in.skipBytes(in.readableBytes());
            server.failLogin("08P01", "received unencrypted data after SSL response from server " + where());
            return;
        }
        if (answer == 'S') {
            SslHandler h = tls.serverHandler(ctx.alloc(), mode, address.getHostString(), address.getPort(), timeout);
            TlsHandshakes.watch(h, ctx.channel(), false);
            h.handshakeFuture().addListener(f -> {
                if (f.isSuccess()) {
                    proceed(ctx);
                } else {
                    server.failLogin("08006", "TLS handshake with server " + where() + " failed (server_tls_sslmode "
                            + mode.key() + "): " + rootMessage(f.cause()));
                }
            });
            ctx.pipeline().addBefore(ctx.name(), "tls", h);
        } else if (answer == 'N') {
            if (mode.required()) {
                server.failLogin("08006", "server " + where() + " does not support SSL, but SSL was required"
                        + " (server_tls_sslmode " + mode.key() + ")");
            } else {
                proceed(ctx);
            }
        } else {
            server.failLogin("08P01", "received invalid response to SSL negotiation from server " + where()
                    + ": '" + (char) (answer & 0xff) + "'");
        }
    }

    private void proceed(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            ctx.fireChannelActive(); // the server connection sends its StartupMessage now
            ctx.pipeline().remove(this);
        }
    }

    private String where() {
        return address.getHostString() + ":" + address.getPort();
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return String.valueOf(t.getMessage());
    }
}
