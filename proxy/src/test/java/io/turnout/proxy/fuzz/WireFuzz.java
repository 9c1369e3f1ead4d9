package io.turnout.proxy.fuzz;

import io.turnout.proxy.testing.TurnoutFixture;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Fuzzing Turnout over a real socket, through the whole client pipeline (frame scanner, login, console):
 * one in-process Turnout per configuration, a fresh connection per input. Whatever the bytes, Turnout must
 * answer or close within {@link #ANSWER_MS}; anything else is a hang and fails the input. Leaks surface
 * through PARANOID leak detection in the same JVM.
 */
final class WireFuzz {
    static final int ANSWER_MS = 10_000;
    private static final Map<String, TurnoutFixture> SERVERS = new ConcurrentHashMap<>();

    private WireFuzz() {
    }

    /** A Turnout with this auth_type (and fuzz user "fuzz"/"pw", stats user), its database nowhere. */
    static TurnoutFixture turnout(String authType) {
        // Jazzer's SSRF detector flags every socket connect; these go to 127.0.0.1 by design
        com.code_intelligence.jazzer.api.BugDetectors.allowNetworkConnections();
        return SERVERS.computeIfAbsent(authType, t -> {
            TurnoutFixture f = TurnoutFixture.builder().set("auth_type", t).set("stats_users", "fuzz")
                    .set("client_login_timeout", 5).set("server_connect_timeout", 1)
                    .user("fuzz", "pw").rawDatabase("app", "host: 127.0.0.1, port: 1").start();
            Runtime.getRuntime().addShutdownHook(new Thread(f::close));
            return f;
        });
    }

    static Socket connect(TurnoutFixture t) throws IOException {
        Socket s = new Socket("127.0.0.1", t.port());
        s.setSoTimeout(ANSWER_MS);
        s.setTcpNoDelay(true);
        return s;
    }

    static void startup(OutputStream out, String user, String database) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(new byte[] {0, 3, 0, 0});
        for (String s : new String[] {"user", user, "database", database}) {
            body.write(s.getBytes(StandardCharsets.UTF_8));
            body.write(0);
        }
        body.write(0);
        writeFrame(out, (byte) 0, body.toByteArray());
    }

    /** A frame with this type (0: untyped) and a correct length word. */
    static void writeFrame(OutputStream out, byte type, byte[] body) throws IOException {
        ByteArrayOutputStream f = new ByteArrayOutputStream();
        if (type != 0) {
            f.write(type);
        }
        int len = body.length + 4;
        f.write(new byte[] {(byte) (len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len});
        f.write(body);
        out.write(f.toByteArray());
        out.flush();
    }

    /**
     * Reads frames until one of {@code stopAt} (returned) or the connection's end (returns 0). A silent
     * Turnout fails the input.
     */
    static byte readUntil(DataInputStream in, String stopAt) throws IOException {
        try {
            while (true) {
                byte type = in.readByte();
                int len = in.readInt();
                if (len < 4) {
                    throw new AssertionError("Turnout sent a frame of length " + len);
                }
                in.skipNBytes(len - 4);
                if (stopAt.indexOf(type) >= 0) {
                    return type;
                }
            }
        } catch (EOFException | SocketException closed) {
            return 0;
        } catch (SocketTimeoutException e) {
            throw new AssertionError("no answer and no close within " + ANSWER_MS + " ms: a hang", e);
        }
    }
}
