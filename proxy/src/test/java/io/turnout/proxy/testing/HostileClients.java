package io.turnout.proxy.testing;

import io.turnout.protocol.auth.AuthException;
import io.turnout.protocol.auth.ScramClient;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * Clients that misbehave on purpose, shared by {@code HostileClientsIT} and {@code bench/hostile}: half-sent
 * startup packets, SCRAM logins with wrong proofs, a client that asks for a large result and never reads it.
 */
public final class HostileClients {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newHttpClient();

    private HostileClients() {
    }

    /**
     * Opens {@code n} connections that each send part of {@code startup} and then nothing: every other one
     * only 4 bytes (still in the SSLRequest check), the others half the packet (in the login's frame scanner).
     */
    public static List<Socket> halfStartups(int port, int n, byte[] startup) throws IOException {
        List<Socket> out = new ArrayList<>(n);
        try {
            for (int i = 0; i < n; i++) {
                Socket s = new Socket();
                out.add(s);
                s.connect(new InetSocketAddress("127.0.0.1", port), 30_000);
                s.getOutputStream().write(startup, 0, i % 2 == 0 ? 4 : startup.length / 2);
            }
        } catch (IOException e) {
            closeAll(out);
            throw e;
        }
        return out;
    }

    /** How many of {@code sockets} the server has closed by {@code deadlineNanos} (System.nanoTime). */
    public static int closedByServer(List<Socket> sockets, long deadlineNanos) throws IOException {
        int closed = 0;
        byte[] sink = new byte[512];
        for (Socket s : sockets) {
            try {
                InputStream in = s.getInputStream();
                while (true) {
                    long left = (deadlineNanos - System.nanoTime()) / 1_000_000;
                    if (left <= 0) {
                        break;
                    }
                    s.setSoTimeout((int) Math.min(left, Integer.MAX_VALUE));
                    if (in.read(sink) < 0) {
                        closed++;
                        break;
                    }
                }
            } catch (SocketTimeoutException e) {
                // still open at the deadline
            } catch (IOException e) {
                closed++; // reset
            }
        }
        return closed;
    }

    public static void closeAll(List<Socket> sockets) {
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    /**
     * A whole SCRAM-SHA-256 login whose proof is made from random keys (so it costs the client no PBKDF2):
     * returns the SQLSTATE of the ErrorResponse Turnout ends it with, or "ok" if it somehow succeeded.
     */
    public static String wrongScramLogin(int port, String user, String db) throws IOException {
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            return login(s, user, new ScramClient(key, key), db);
        }
    }

    /**
     * Logs in on {@code s} (trust, or SCRAM with {@code scram}); returns "ok" at ReadyForQuery, or the
     * SQLSTATE of an ErrorResponse.
     */
    public static String login(Socket s, String user, ScramClient scram, String db) throws IOException {
        DataInputStream in = new DataInputStream(s.getInputStream());
        var out = s.getOutputStream();
        out.write(RawClient.startup("user", user, "database", db));
        while (true) {
            RawClient.Message m = read(in);
            if (m.type() == 'E') {
                return m.field('C');
            }
            if (m.type() == 'Z') {
                return "ok";
            }
            if (m.type() != 'R') {
                continue; // ParameterStatus, BackendKeyData
            }
            int code = ByteBuffer.wrap(m.body()).getInt();
            byte[] data = java.util.Arrays.copyOfRange(m.body(), 4, m.body().length);
            try {
                switch (code) {
                    case 10 -> {
                        byte[] first = scram.clientFirstMessage();
                        byte[] mech = "SCRAM-SHA-256\0".getBytes(StandardCharsets.US_ASCII);
                        out.write(RawClient.message('p', ByteBuffer.allocate(mech.length + 4 + first.length)
                                .put(mech).putInt(first.length).put(first).array()));
                    }
                    case 11 -> out.write(RawClient.message('p', scram.handleServerFirst(data)));
                    case 12 -> scram.verifyServerFinal(data);
                    case 0 -> { }
                    default -> throw new IOException("unexpected authentication request " + code);
                }
            } catch (AuthException e) {
                throw new IOException("SCRAM: " + e.getMessage(), e);
            }
        }
    }

    private static RawClient.Message read(DataInputStream in) throws IOException {
        int type = in.readUnsignedByte();
        byte[] body = new byte[in.readInt() - 4];
        in.readFully(body);
        return new RawClient.Message((char) type, body);
    }

    /**
     * Sends {@code select repeat('x', rowBytes) from generate_series(1, rows)} on a logged-in socket and
     * reads nothing: PostgreSQL fills Turnout's socket, Turnout's must stop reading it.
     */
    public static void askForUnreadResult(Socket s, long rows, int rowBytes) throws IOException {
        s.getOutputStream().write(RawClient.query("select repeat('x', " + rowBytes + ") from generate_series(1, "
                + rows + ")"));
    }

    /** Reads the reply {@link #askForUnreadResult} asked for up to its ReadyForQuery: the DataRows in it. */
    public static long drainResult(Socket s) throws IOException {
        s.setSoTimeout(120_000);
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream(), 1 << 16));
        long rows = 0;
        while (true) {
            int type = in.readUnsignedByte();
            int length = in.readInt();
            if (type == 'E') {
                byte[] body = new byte[length - 4];
                in.readFully(body);
                throw new IOException("error instead of rows: " + new RawClient.Message('E', body).field('M'));
            }
            in.skipNBytes(length - 4);
            if (type == 'D') {
                rows++;
            } else if (type == 'Z') {
                return rows;
            }
        }
    }

    /** {@code turnout_client_login_failures_total{reason="password"}} from /metrics on {@code metricsPort}. */
    public static double passwordFailures(int metricsPort) throws IOException, InterruptedException {
        String body = HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + metricsPort
                + "/metrics")).timeout(java.time.Duration.ofSeconds(30)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("(?m)^turnout_client_login_failures_total\\{reason=\"password\",?} (\\S+)$").matcher(body);
        if (!m.find()) {
            throw new IOException("no turnout_client_login_failures_total{reason=\"password\"} in /metrics");
        }
        return Double.parseDouble(m.group(1));
    }

    /** What a {@link #wrongPasswordStorm} did: logins refused with 28P01, and any other outcome. */
    public record Storm(int refused, int other, double seconds) {
        public double rate() {
            return refused / seconds;
        }
    }

    /**
     * {@link #wrongScramLogin}s on {@code threads} threads, paced to {@code perSecond} in all, for {@code seconds}
     * (slower when the machine cannot keep up: each thread waits for its login before starting the next).
     */
    public static Storm wrongPasswordStorm(int port, String user, String db, int threads, int perSecond, double seconds)
            throws Exception {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            long start = System.nanoTime();
            long end = start + (long) (seconds * 1e9);
            long interval = 1_000_000_000L * threads / perSecond;
            List<java.util.concurrent.Future<int[]>> parts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                parts.add(pool.submit(() -> {
                    int[] counts = new int[2];
                    for (long next = System.nanoTime(); System.nanoTime() < end; next += interval) {
                        java.util.concurrent.TimeUnit.NANOSECONDS.sleep(Math.max(0, next - System.nanoTime()));
                        String state;
                        try {
                            state = wrongScramLogin(port, user, db);
                        } catch (IOException e) {
                            state = "io"; // a refused connection or a reset is not a refused login
                        }
                        counts["28P01".equals(state) ? 0 : 1]++;
                    }
                    return counts;
                }));
            }
            int refused = 0;
            int other = 0;
            for (java.util.concurrent.Future<int[]> f : parts) {
                int[] c = f.get();
                refused += c[0];
                other += c[1];
            }
            return new Storm(refused, other, (System.nanoTime() - start) / 1e9);
        } finally {
            pool.shutdownNow();
        }
    }
}
