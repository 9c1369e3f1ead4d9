package io.turnout.proxy.net;

import io.netty.bootstrap.AbstractBootstrap;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.channel.uring.IoUringChannelOption;
import io.turnout.config.NetworkSettings;
import io.turnout.config.Transport;
import java.net.StandardSocketOptions;
import jdk.net.ExtendedSocketOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-socket TCP settings (keepalive timers, TCP_USER_TIMEOUT, SO_REUSEPORT) on client and server
 * sockets, so a dead peer behind a load balancer is noticed in seconds, not the kernel's two hours.
 * Native epoll and io_uring have every option; NIO has all but TCP_USER_TIMEOUT.
 */
public final class TcpOptions {
    private static final Logger log = LoggerFactory.getLogger(TcpOptions.class);

    /** The options a transport names its own way (null: the transport cannot set it). */
    private record Names(ChannelOption<Integer> keepIdle, ChannelOption<Integer> keepIntvl,
                         ChannelOption<Integer> keepCnt, ChannelOption<Integer> userTimeout) {
    }

    private static final Names EPOLL = new Names(EpollChannelOption.TCP_KEEPIDLE, EpollChannelOption.TCP_KEEPINTVL,
            EpollChannelOption.TCP_KEEPCNT, EpollChannelOption.TCP_USER_TIMEOUT);
    private static final Names IO_URING = new Names(IoUringChannelOption.TCP_KEEPIDLE,
            IoUringChannelOption.TCP_KEEPINTVL, IoUringChannelOption.TCP_KEEPCNT, IoUringChannelOption.TCP_USER_TIMEOUT);
    private static final Names NIO = new Names(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE),
            NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL),
            NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT), null);

    private TcpOptions() {
    }

    /** Options of the sockets clients connect on; {@code transport} is the one running (never AUTO). */
    public static void applyToChildren(ServerBootstrap b, NetworkSettings n, Transport transport) {
        b.childOption(ChannelOption.SO_KEEPALIVE, n.tcpKeepalive());
        Names o = names(transport);
        childIfSet(b, o.keepIdle(), n.tcpKeepIdle());
        childIfSet(b, o.keepIntvl(), n.tcpKeepIntvl());
        childIfSet(b, o.keepCnt(), n.tcpKeepCnt());
        if (o.userTimeout() != null) {
            childIfSet(b, o.userTimeout(), n.tcpUserTimeout());
        } else if (n.tcpUserTimeout() > 0) {
            log.warn("tcp_user_timeout_unsupported transport={} note=\"needs the native epoll or io_uring transport\"",
                    transport.key());
        }
    }

    /** Options of the sockets Turnout opens to PostgreSQL. */
    public static void apply(Bootstrap b, NetworkSettings n, Transport transport) {
        b.option(ChannelOption.SO_KEEPALIVE, n.tcpKeepalive());
        Names o = names(transport);
        ifSet(b, o.keepIdle(), n.tcpKeepIdle());
        ifSet(b, o.keepIntvl(), n.tcpKeepIntvl());
        ifSet(b, o.keepCnt(), n.tcpKeepCnt());
        if (o.userTimeout() != null) {
            ifSet(b, o.userTimeout(), n.tcpUserTimeout());
        }
    }

    /** SO_REUSEPORT on the listener: a new process can bind the port while the old one drains. */
    public static void reusePort(ServerBootstrap b, Transport transport) {
        if (transport == Transport.NIO) {
            b.option(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true);
        } else {
            b.option(UnixChannelOption.SO_REUSEPORT, true); // epoll's and io_uring's are this one
        }
    }

    private static Names names(Transport transport) {
        return switch (transport) {
            case EPOLL -> EPOLL;
            case IO_URING -> IO_URING;
            case NIO, AUTO -> NIO;
        };
    }

    private static void childIfSet(ServerBootstrap b, ChannelOption<Integer> o, int v) {
        if (v > 0) {
            b.childOption(o, v);
        }
    }

    private static <B extends AbstractBootstrap<B, ?>> void ifSet(B b, ChannelOption<Integer> o, int v) {
        if (v > 0) {
            b.option(o, v);
        }
    }
}
