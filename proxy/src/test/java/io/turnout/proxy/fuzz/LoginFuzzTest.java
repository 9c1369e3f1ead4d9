package io.turnout.proxy.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.turnout.proxy.testing.TurnoutFixture;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;

/**
 * The client's answers to Turnout's authentication request: PasswordMessage under auth_type plain and md5,
 * SASLInitialResponse and SASLResponse under scram-sha-256, each as a well-framed 'p' or as raw bytes.
 * Turnout answers (an ErrorResponse, a SASL continuation, or the login going on) or closes, never hangs.
 */
class LoginFuzzTest {
    private static final String[] AUTH = {"plain", "md5", "scram-sha-256"};

    @FuzzTest(maxDuration = "3s")
    void password(FuzzedDataProvider data) throws IOException {
        TurnoutFixture t = WireFuzz.turnout(data.pickValue(AUTH));
        boolean framed = data.consumeBoolean();
        byte[] first = data.consumeBytes(data.consumeInt(0, 300));
        byte[] second = data.consumeRemainingAsBytes();
        try (Socket s = WireFuzz.connect(t)) {
            OutputStream out = s.getOutputStream();
            DataInputStream in = new DataInputStream(s.getInputStream());
            WireFuzz.startup(out, "fuzz", "app");
            if (WireFuzz.readUntil(in, "RE") != 'R') {
                throw new AssertionError("no authentication request");
            }
            try {
                send(out, framed, first);
                if (!framed) {
                    s.shutdownOutput(); // raw bytes are all there is: EOF, not client_login_timeout, ends a partial frame
                }
                if (WireFuzz.readUntil(in, "REZ") == 'R' && framed) { // SASL continue: answer again
                    send(out, true, second);
                    s.shutdownOutput();
                    WireFuzz.readUntil(in, "EZ");
                }
            } catch (SocketException closedWhileWriting) {
                // Turnout had already answered and closed
            }
        }
    }

    private static void send(OutputStream out, boolean framed, byte[] bytes) throws IOException {
        if (framed) {
            WireFuzz.writeFrame(out, (byte) 'p', bytes);
        } else {
            out.write(bytes);
            out.flush();
        }
    }
}
