package io.turnout.proxy.net;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.uring.IoUringSocketChannel;

/**
 * On io_uring, shuts a socket's input down as its close is asked for, so that the close reaches the peer.
 * First in a client or server pipeline, so SslHandler's own close passes it too.
 * <p>
 * Netty 4.2.18's io_uring closes with IORING_OP_CLOSE, and a poll still in flight keeps the socket open: no FIN
 * until the peer sends something. Netty cancels its polls at the close but can lose one. A close asked for
 * while a write is in flight waits for it (AbstractUringUnsafe.close: delayedClose) with the channel still
 * active, so the read auto-read asks for at channelReadComplete arms a POLLIN poll (schedulePollIn checks
 * isActive, not delayedClose). The POLLRDHUP poll the close cancelled then completes with -ECANCELED, whose
 * bits include POLLIN's (pollAddComplete tests res's bits), so pollIn() clears the new poll's state and
 * doDeregister() never cancels it. SslHandler does exactly this with a record that is not TLS (an empty
 * flush, then the close, inside the read): TlsIT's client waited for a close that never came.
 * shutdown(SHUT_RD) completes every poll on the socket and stops Netty arming new ones; the pending write
 * is untouched.
 */
@ChannelHandler.Sharable
public final class ShutdownInputOnCloseHandler extends ChannelOutboundHandlerAdapter {
    public static final ShutdownInputOnCloseHandler INSTANCE = new ShutdownInputOnCloseHandler();

    private ShutdownInputOnCloseHandler() {
    }

    /** Puts the handler first in {@code ch}'s pipeline when {@code ch} is an io_uring socket (epoll's closes at once). */
    public static void guard(Channel ch) {
        if (ch instanceof IoUringSocketChannel) {
            ch.pipeline().addFirst("shutdown-input", INSTANCE);
        }
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        if (ctx.channel().isActive() && ctx.channel() instanceof DuplexChannel ch && !ch.isInputShutdown()) {
            ch.shutdownInput();
        }
        ctx.close(promise);
    }
}
