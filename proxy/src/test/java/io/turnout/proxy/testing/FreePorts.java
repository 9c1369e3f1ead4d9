package io.turnout.proxy.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Free TCP ports on 127.0.0.1 for the server fixtures, and the retry when one is taken between our probe and the
 * server's bind (another test JVM on the machine may pick the same port in that window).
 */
final class FreePorts {
    private static final Logger log = LoggerFactory.getLogger(FreePorts.class);
    static final String HOST = "127.0.0.1";
    private static final int ATTEMPTS = 8;

    private FreePorts() {}

    /** Thrown by a start attempt whose server could not bind a port: {@link #retry} tries again on others. */
    static final class PortTaken extends RuntimeException {
        private static final long serialVersionUID = 1L;

        PortTaken(String message) {
            super(message);
        }
    }

    /** A port that was free a moment ago (found by binding port 0). */
    static int pick() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free TCP port on " + HOST, e);
        }
    }

    /** Whether a server's log text says it lost the race for its port. */
    static boolean saysPortTaken(String logText) {
        String l = logText.toLowerCase(java.util.Locale.ROOT);
        return l.contains("address already in use") || l.contains("could not create any tcp/ip sockets");
    }

    /**
     * Runs {@code attempt} (which picks its own ports) until it returns; a {@link PortTaken} from it means "again
     * on other ports", up to a few times. Anything else it throws ends the retries.
     */
    static <T> T retry(String what, Supplier<T> attempt) {
        for (int i = 1; ; i++) {
            try {
                return attempt.get();
            } catch (PortTaken e) {
                if (i == ATTEMPTS) {
                    throw new IllegalStateException(what + " could not bind a free port in " + ATTEMPTS + " attempts: "
                            + e.getMessage(), e);
                }
                log.info("a port was taken before {} could bind it; retrying on another", what);
            }
        }
    }
}
