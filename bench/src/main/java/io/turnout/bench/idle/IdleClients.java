package io.turnout.bench.idle;

import io.turnout.protocol.auth.AuthException;
import io.turnout.protocol.auth.ScramClient;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Logged-in clients that then do nothing: each a plain socket that went through StartupMessage, SCRAM-SHA-256
 * and ReadyForQuery. Source addresses rotate over 127.0.0.(10 + firstSource), ... every {@link #PER_SOURCE}
 * clients, so more clients fit than one address has ephemeral ports; a later round starts past the addresses
 * of the one before, whose closed sockets still hold their ports in TIME_WAIT (reusing them made the second
 * round's 10,000 logins take 20-25 s instead of 4-5, the kernel searching for free ports).
 */
final class IdleClients implements AutoCloseable {
    static final int PER_SOURCE = 20_000;

    private final List<Socket> sockets = new ArrayList<>();

    /** How many source addresses {@code n} clients take. */
    static int sources(int n) {
        return (n + PER_SOURCE - 1) / PER_SOURCE;
    }

    /**
     * Opens {@code n} clients on {@code threads} threads from source addresses 127.0.0.(10 + firstSource) on;
     * throws on the first that cannot log in.
     */
    static IdleClients open(int n, int firstSource, int port, String user, String password, String db, int threads)
            throws Exception {
        if (10 + firstSource + sources(n) > 255) {
            throw new IllegalArgumentException("not enough loopback source addresses for " + n + " clients from 127.0.0."
                    + (10 + firstSource) + ": fewer --clients or --rounds");
        }
        IdleClients out = new IdleClients();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<List<Socket>>> parts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int from = (int) ((long) n * t / threads);
                int to = (int) ((long) n * (t + 1) / threads);
                parts.add(pool.submit(() -> {
                    List<Socket> mine = new ArrayList<>(to - from);
                    try {
                        for (int i = from; i < to; i++) {
                            mine.add(login(i, firstSource, port, user, password, db));
                        }
                    } catch (Exception e) {
                        mine.forEach(IdleClients::closeQuietly);
                        throw e;
                    }
                    return mine;
                }));
            }
            Exception failed = null;
            for (Future<List<Socket>> f : parts) {
                try {
                    out.sockets.addAll(f.get());
                } catch (java.util.concurrent.ExecutionException e) {
                    failed = failed != null ? failed : (Exception) e.getCause();
                }
            }
            if (failed != null) {
                out.close();
                throw failed;
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    int size() {
        return sockets.size();
    }

    private static Socket login(int i, int firstSource, int port, String user, String password, String db)
            throws IOException, AuthException {
        Socket s = new Socket();
        try {
            s.setSoTimeout(60_000);
            s.bind(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) (10 + firstSource + i / PER_SOURCE)}), 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 30_000);
            OutputStream out = s.getOutputStream();
            DataInputStream in = new DataInputStream(s.getInputStream());
            out.write(startup(user, db));
            ScramClient scram = new ScramClient(password);
            while (true) {
                int type = in.readUnsignedByte();
                byte[] body = new byte[in.readInt() - 4];
                in.readFully(body);
                if (type == 'E') {
                    throw new IOException("client " + i + " refused: " + new String(body, StandardCharsets.UTF_8).replace('\0', ' '));
                }
                if (type == 'Z') {
                    return s;
                }
                if (type != 'R') {
                    continue; // ParameterStatus, BackendKeyData
                }
                int code = ByteBuffer.wrap(body).getInt();
                byte[] data = java.util.Arrays.copyOfRange(body, 4, body.length);
                switch (code) {
                    case 10 -> out.write(saslInitial(scram.clientFirstMessage()));
                    case 11 -> out.write(message('p', scram.handleServerFirst(data)));
                    case 12 -> scram.verifyServerFinal(data);
                    case 0 -> { }
                    default -> throw new IOException("client " + i + ": unexpected authentication request " + code);
                }
            }
        } catch (IOException | AuthException | RuntimeException e) {
            closeQuietly(s);
            throw e;
        }
    }

    private static byte[] startup(String user, String db) {
        byte[] params = ("user\0" + user + "\0database\0" + db + "\0\0").getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + params.length).putInt(8 + params.length).putInt(196608).put(params).array();
    }

    private static byte[] saslInitial(byte[] first) {
        byte[] mech = "SCRAM-SHA-256\0".getBytes(StandardCharsets.US_ASCII);
        return message('p', ByteBuffer.allocate(mech.length + 4 + first.length).put(mech).putInt(first.length)
                .put(first).array());
    }

    private static byte[] message(char type, byte[] body) {
        return ByteBuffer.allocate(5 + body.length).put((byte) type).putInt(4 + body.length).put(body).array();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() {
        sockets.forEach(IdleClients::closeQuietly);
        sockets.clear();
    }
}
