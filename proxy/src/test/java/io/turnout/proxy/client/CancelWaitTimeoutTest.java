package io.turnout.proxy.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.NetworkSettings;
import io.turnout.config.Transport;
import io.turnout.proxy.net.Transports;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * cancel_wait_timeout bounds a forwarded cancel: a server that takes the CancelRequest and never closes the
 * connection (PostgreSQL closes it at once) is given up on, and the cancelled server's wait ends.
 */
class CancelWaitTimeoutTest {
    @Test
    void aCancelToAServerThatNeverAnswersIsGivenUpAfterCancelWaitTimeout() throws Exception {
        Transports transports = new Transports(1, Transport.NIO);
        try (ServerSocket silent = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            NetworkSettings network = io.turnout.config.ConfigLoader.parse(
                    "auth_type: trust\ndatabases:\n  d: { host: h }\n", "t", null, java.nio.file.Path.of(".")).network();
            CancelRegistry cancels = new CancelRegistry(transports, network, () -> Duration.ofMillis(300));
            CompletableFuture<Void> done = new CompletableFuture<>();
            long start = System.nanoTime();
            cancels.sendCancel(new InetSocketAddress(silent.getInetAddress(), silent.getLocalPort()), 42, 7,
                    transports.loops().get(0), () -> done.complete(null));
            try (Socket s = silent.accept()) {
                InputStream in = s.getInputStream();
                byte[] request = in.readNBytes(16);
                assertThat(request).as("a whole CancelRequest").hasSize(16);
                assertThat(request[3]).isEqualTo((byte) 16);
                done.get(10, TimeUnit.SECONDS); // the socket is still open on our side: only the timeout ends it
                assertThat(in.read()).as("Turnout closed the connection").isEqualTo(-1);
            }
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(250);
        } finally {
            transports.close();
        }
    }
}
