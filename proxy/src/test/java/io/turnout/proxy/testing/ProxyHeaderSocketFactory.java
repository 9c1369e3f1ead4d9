package io.turnout.proxy.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import javax.net.SocketFactory;

/**
 * A pgjdbc {@code socketFactory} that speaks like a load balancer with PROXY protocol: right after
 * connecting it sends a header naming a made-up client. The argument ({@code socketFactoryArg}) is
 * {@code v1|v2:address:port}.
 */
public final class ProxyHeaderSocketFactory extends SocketFactory {
    private final String version;
    private final String address;
    private final int port;

    public ProxyHeaderSocketFactory(String arg) {
        String[] p = arg.split(":");
        this.version = p[0];
        this.address = p[1];
        this.port = Integer.parseInt(p[2]);
    }

    @Override
    public Socket createSocket() {
        return new Socket() {
            @Override
            public void connect(SocketAddress endpoint, int timeout) throws IOException {
                super.connect(endpoint, timeout);
                getOutputStream().write(header(getLocalAddress(), getLocalPort(), getPort()));
                getOutputStream().flush();
            }
        };
    }

    private byte[] header(InetAddress localAddr, int localPort, int destPort) throws IOException {
        byte[] src = InetAddress.getByName(address).getAddress();
        if (version.equals("v1")) {
            return ("PROXY TCP4 " + address + " " + localAddr.getHostAddress() + " " + port + " " + destPort + "\r\n")
                    .getBytes(StandardCharsets.US_ASCII);
        }
        ByteBuffer b = ByteBuffer.allocate(28);
        b.put(new byte[] {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});
        b.put((byte) 0x21); // version 2, PROXY
        b.put((byte) 0x11); // TCP over IPv4
        b.putShort((short) 12);
        b.put(src);
        b.put(localAddr.getAddress());
        b.putShort((short) port);
        b.putShort((short) destPort);
        return b.array();
    }

    @Override
    public Socket createSocket(String host, int port) {
        throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress localHost, int localPort) {
        throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(InetAddress host, int port) {
        throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort) {
        throw new UnsupportedOperationException();
    }
}
