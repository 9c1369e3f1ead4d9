package io.turnout.proxy.net;

import io.netty.bootstrap.AbstractBootstrap;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.socket.nio.NioChannelOption;
import io.turnout.config.NetworkSettings;
import java.net.StandardSocketOptions;
import jdk.net.ExtendedSocketOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-socket TCP settings (keepalive timers, TCP_USER_TIMEOUT, SO_REUSEPORT) on client and server
 * sockets, so a dead peer behind a load balancer is noticed in seconds, not the kernel's two hours.
 * Native epoll has every option; NIO has all but TCP_USER_TIMEOUT.
 */
public final class TcpOptions {
    private static final Logger log = LoggerFactory.getLogger(TcpOptions.class);

    private TcpOptions() {
    }

    /** Options of the sockets clients connect on. */
    public static void applyToChildren(ServerBootstrap b, NetworkSettings n, boolean epoll) {
        b.childOption(ChannelOption.SO_KEEPALIVE, n.tcpKeepalive());
        if (epoll) {
            childIfSet(b, EpollChannelOption.TCP_KEEPIDLE, n.tcpKeepIdle());
            childIfSet(b, EpollChannelOption.TCP_KEEPINTVL, n.tcpKeepIntvl());
            childIfSet(b, EpollChannelOption.TCP_KEEPCNT, n.tcpKeepCnt());
            childIfSet(b, EpollChannelOption.TCP_USER_TIMEOUT, n.tcpUserTimeout());
        } else {
            childIfSet(b, NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE), n.tcpKeepIdle());
            childIfSet(b, NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL), n.tcpKeepIntvl());
            childIfSet(b, NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT), n.tcpKeepCnt());
            warnUserTimeout(n);
        }
    }

    /** Options of the sockets Turnout opens to PostgreSQL. */
    public static void apply(Bootstrap b, NetworkSettings n, boolean epoll) {
        b.option(ChannelOption.SO_KEEPALIVE, n.tcpKeepalive());
        if (epoll) {
            ifSet(b, EpollChannelOption.TCP_KEEPIDLE, n.tcpKeepIdle());
            ifSet(b, EpollChannelOption.TCP_KEEPINTVL, n.tcpKeepIntvl());
            ifSet(b, EpollChannelOption.TCP_KEEPCNT, n.tcpKeepCnt());
            ifSet(b, EpollChannelOption.TCP_USER_TIMEOUT, n.tcpUserTimeout());
        } else {
            ifSet(b, NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE), n.tcpKeepIdle());
            ifSet(b, NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL), n.tcpKeepIntvl());
            ifSet(b, NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT), n.tcpKeepCnt());
        }
    }

    /** SO_REUSEPORT on the listener: a new process can bind the port while the old one drains. */
    public static void reusePort(ServerBootstrap b, boolean epoll) {
        if (epoll) {
            b.option(EpollChannelOption.SO_REUSEPORT, true);
        } else {
            b.option(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true);
        }
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

    private static void warnUserTimeout(NetworkSettings n) {
        if (n.tcpUserTimeout() > 0) {
            log.warn("tcp_user_timeout_unsupported transport=nio note=\"needs the native epoll transport\"");
        }
    }
}
