package io.turnout.proxy.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.turnout.proxy.testing.TurnoutFixture;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;

/**
 * The admin console's command parser (SHOW, SET, the control commands), as a stats user so that a fuzzed
 * SHUTDOWN or SUSPEND is refused rather than obeyed: every Query gets its answer and ReadyForQuery.
 */
class AdminConsoleFuzzTest {
    @FuzzTest(maxDuration = "3s")
    void query(byte[] sql) throws IOException {
        TurnoutFixture t = WireFuzz.turnout("trust");
        byte[] body = new byte[sql.length + 1];
        for (int i = 0; i < sql.length; i++) {
            body[i] = sql[i] == 0 ? (byte) ' ' : sql[i]; // a NUL would end the string early: the same parse
        }
        try (Socket s = WireFuzz.connect(t)) {
            OutputStream out = s.getOutputStream();
            DataInputStream in = new DataInputStream(s.getInputStream());
            WireFuzz.startup(out, "fuzz", "pgbouncer");
            if (WireFuzz.readUntil(in, "ZE") != 'Z') {
                throw new AssertionError("the console did not accept the stats user");
            }
            WireFuzz.writeFrame(out, (byte) 'Q', body);
            if (WireFuzz.readUntil(in, "Z") != 'Z') {
                throw new AssertionError("the console closed instead of answering: " + new String(sql));
            }
        }
    }
}
