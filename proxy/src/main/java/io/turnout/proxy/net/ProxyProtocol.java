package io.turnout.proxy.net;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.util.AttributeKey;
import io.turnout.config.Cidr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PROXY protocol v1/v2 on the client listener (HAProxy's send-proxy-v2, an AWS NLB with proxy protocol):
 * the first byte tells a PROXY header ('P' or CR) from a PostgreSQL packet (whose length never starts
 * so). A header is accepted only from {@code trusted} sources and then names the real client for SHOW
 * CLIENTS and the logs; a header from anywhere else closes the connection. Connections without a
 * header (a health check, an admin on the host) keep their socket address.
 */
public final class ProxyProtocol extends ByteToMessageDecoder {
    private static final Logger log = LoggerFactory.getLogger(ProxyProtocol.class);
    private static final AttributeKey<InetSocketAddress> CLIENT = AttributeKey.valueOf("turnout.client");

    private final List<Cidr> trusted;

    public ProxyProtocol(List<Cidr> trusted) {
        this.trusted = trusted;
    }

    /** The client's address: from its PROXY header when there was one, else the socket's peer. */
    public static SocketAddress clientAddress(Channel ch) {
        InetSocketAddress real = ch.attr(CLIENT).get();
        return real != null ? real : ch.remoteAddress();
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (!in.isReadable()) {
            return;
        }
        byte first = in.getByte(in.readerIndex());
        if (first != 'P' && first != '\r') {
            ctx.pipeline().remove(this); // plain PostgreSQL: what was read goes on to the client handler
            return;
        }
        InetSocketAddress peer = (InetSocketAddress) ctx.channel().remoteAddress();
        if (trusted.stream().noneMatch(c -> c.contains(peer.getAddress()))) {
            log.warn("proxy_header_rejected source={} reason=\"not in proxy_protocol_trusted\"", peer);
            in.skipBytes(in.readableBytes());
            ctx.close();
            return;
        }
        ctx.pipeline().addAfter(ctx.name(), "proxy-header", new HAProxyMessageDecoder());
        ctx.pipeline().addAfter("proxy-header", "proxy-reader", new HeaderReader());
        ctx.pipeline().remove(this); // the buffered bytes go to the HAProxy decoder, which removes itself when done
    }

    /** Takes the decoded header, records the client, and leaves the pipeline. */
    private static final class HeaderReader extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HAProxyMessage header)) {
                ctx.fireChannelRead(msg);
                return;
            }
            try {
                if (header.command() == HAProxyCommand.PROXY && header.sourceAddress() != null) {
                    ctx.channel().attr(CLIENT).set(new InetSocketAddress(header.sourceAddress(), header.sourcePort()));
                }
            } finally {
                header.release();
            }
            ctx.pipeline().remove(this);
        }
    }
}
