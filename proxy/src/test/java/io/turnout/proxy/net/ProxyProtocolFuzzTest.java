package io.turnout.proxy.net;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.turnout.config.Cidr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * The PROXY v1/v2 header path from a trusted peer, in fuzzer-chosen reads: the channel either closes or
 * leaves the header behind with the bytes after it passed on unchanged; a malformed header is the decoder's
 * DecoderException (Turnout closes the connection on it), nothing else; every buffer is released.
 */
class ProxyProtocolFuzzTest {
    private static final List<Cidr> TRUSTED = List.of(Cidr.parse("127.0.0.0/8"));

    /** EmbeddedChannel's own address is not an InetSocketAddress, which ProxyProtocol checks against the list. */
    private static final class PeerChannel extends EmbeddedChannel {
        PeerChannel() {
            super(false, false);
        }

        @Override
        protected SocketAddress remoteAddress0() {
            return new InetSocketAddress("127.0.0.1", 40000);
        }
    }

    @FuzzTest(maxDuration = "3s")
    void header(FuzzedDataProvider data) throws Exception {
        int cut = data.consumeInt(0, 120);
        byte[] bytes = data.consumeRemainingAsBytes();
        List<ByteBuf> passed = new ArrayList<>();
        PeerChannel ch = new PeerChannel();
        ch.pipeline().addLast("proxy-protocol", new ProxyProtocol(TRUSTED));
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                passed.add((ByteBuf) msg);
            }
        });
        ch.register();
        try {
            int at = Math.min(cut, bytes.length);
            ch.writeInbound(Unpooled.copiedBuffer(bytes, 0, at));
            if (ch.isOpen()) {
                ch.writeInbound(Unpooled.copiedBuffer(bytes, at, bytes.length - at));
            }
            ch.checkException();
        } catch (DecoderException expected) {
            // HAProxyProtocolException and kin: ClientHandler logs it and closes
        } finally {
            try {
                ch.finishAndReleaseAll(); // reports an error the decoder raised on a later read or at close
            } catch (DecoderException expected) {
                // as above
            }
            for (ByteBuf b : passed) {
                b.release();
            }
        }
    }
}
