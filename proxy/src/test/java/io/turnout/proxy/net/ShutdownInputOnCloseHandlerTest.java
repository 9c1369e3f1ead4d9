package io.turnout.proxy.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.uring.IoUring;
import io.turnout.config.Transport;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import org.junit.jupiter.api.Test;

/**
 * On io_uring, a close asked for inside channelRead while a write is still in flight (what SslHandler does
 * with a record that is not TLS) reaches the peer once the input is shut down first; see {@link ShutdownInputOnCloseHandler}.
 */
class ShutdownInputOnCloseHandlerTest {

    @Test
    void aCloseAskedWhileAWriteIsInFlightReachesThePeer() throws Exception {
        try (Transports transports = new Transports(1, Transport.IO_URING)) {
            assertThat(IoUring.isAvailable()).as("io_uring unavailable: %s", IoUring.unavailabilityCause()).isTrue();
            assertThat(transports.kind()).isEqualTo(Transport.IO_URING);
            Channel listener = new ServerBootstrap().group(transports.group()).channel(transports.serverChannel())
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(ShutdownInputOnCloseHandler.INSTANCE, new AnswerThenClose());
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            try {
                for (int i = 0; i < 20; i++) {
                    try (Socket s = new Socket("127.0.0.1", ((InetSocketAddress) listener.localAddress()).getPort())) {
                        s.setSoTimeout(10_000); // without the handler: SocketTimeoutException, the close never arrives
                        s.getOutputStream().write('x');
                        InputStream in = s.getInputStream();
                        assertThat(in.read()).isEqualTo('y');
                        assertThat(in.read()).as("end of stream, connection %d", i).isEqualTo(-1);
                    }
                }
            } finally {
                listener.close().sync();
            }
        }
    }

    /** Writes one byte and closes at once, inside the read: the write is still in flight at the close. */
    private static final class AnswerThenClose extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((ByteBuf) msg).release();
            ctx.writeAndFlush(ctx.alloc().buffer(1).writeByte('y'));
            ctx.close();
        }
    }
}
