package io.turnout.proxy.testing;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/** A hand-driven protocol client for tests that must send what no driver would. */
public final class RawClient implements AutoCloseable {
    private Socket socket;
    private DataInputStream in;
    private OutputStream out;

    public RawClient(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(30_000); // a generous read deadline: only a failing test waits for it
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** After an SSLRequest answered 'S': continues over TLS (handshake done here) with {@code tls}'s settings. */
    public RawClient startTls(javax.net.ssl.SSLContext tls) throws IOException {
        javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) tls.getSocketFactory()
                .createSocket(socket, "127.0.0.1", socket.getPort(), true);
        s.setUseClientMode(true);
        s.startHandshake();
        socket = s;
        in = new DataInputStream(s.getInputStream());
        out = s.getOutputStream();
        return this;
    }

    /** The 8-byte SSLRequest (or, with {@code code} 80877104, GSSENCRequest). */
    public static byte[] negotiation(int code) {
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        writeInt(o, 8);
        writeInt(o, code);
        return o.toByteArray();
    }

    public RawClient send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
        return this;
    }

    /** A StartupMessage for protocol 3.0 with the given name/value pairs. */
    public static byte[] startup(String... nameValues) {
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
        writeInt(body, 196608);
        for (String s : nameValues) {
            body.writeBytes(s.getBytes(StandardCharsets.UTF_8));
            body.write(0);
        }
        body.write(0);
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        writeInt(all, body.size() + 4);
        all.writeBytes(body.toByteArray());
        return all.toByteArray();
    }

    /** A typed message with the given body and a correct length. */
    public static byte[] message(char type, byte[] body) {
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        all.write(type);
        writeInt(all, body.length + 4);
        all.writeBytes(body);
        return all.toByteArray();
    }

    /** Concatenates messages into one packet (a pipeline). */
    public static byte[] cat(byte[]... parts) {
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) {
            o.writeBytes(p);
        }
        return o.toByteArray();
    }

    public static byte[] cstr(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(b, b.length + 1);
    }

    public static byte[] parse(String name, String sql) {
        return message('P', cat(cstr(name), cstr(sql), new byte[] {0, 0}));
    }

    /** Bind of {@code stmt} to the unnamed portal, no parameters, text results. */
    public static byte[] bind(String stmt) {
        return message('B', cat(cstr(""), cstr(stmt), new byte[] {0, 0, 0, 0, 0, 0}));
    }

    public static byte[] describeStatement(String stmt) {
        return message('D', cat(new byte[] {'S'}, cstr(stmt)));
    }

    public static byte[] execute() {
        return message('E', cat(cstr(""), new byte[] {0, 0, 0, 0}));
    }

    public static byte[] closeStatement(String stmt) {
        return message('C', cat(new byte[] {'S'}, cstr(stmt)));
    }

    public static byte[] sync() {
        return message('S', new byte[0]);
    }

    public static byte[] query(String sql) {
        byte[] s = sql.getBytes(StandardCharsets.UTF_8);
        byte[] body = java.util.Arrays.copyOf(s, s.length + 1);
        return message('Q', body);
    }

    /** Reads one raw byte (the answer to SSLRequest/GSSENCRequest); -1 at EOF. */
    public int readByte() throws IOException {
        return in.read();
    }

    /** Reads one backend message; returns its type and fills {@code body}. */
    public Message read() throws IOException {
        int type = in.read();
        if (type < 0) {
            throw new EOFException("connection closed");
        }
        int length = in.readInt();
        byte[] body = new byte[length - 4];
        in.readFully(body);
        return new Message((char) type, body);
    }

    /** Reads until ReadyForQuery; returns the first ErrorResponse's SQLSTATE or null. */
    public String readUntilReady() throws IOException {
        String error = null;
        while (true) {
            Message m = read();
            if (m.type() == 'E' && error == null) {
                error = m.field('C');
            }
            if (m.type() == 'Z') {
                return error;
            }
        }
    }

    /** Reads until an ErrorResponse and returns it; fails on ReadyForQuery. */
    public Message readError() throws IOException {
        while (true) {
            Message m = read();
            if (m.type() == 'E') {
                return m;
            }
            if (m.type() == 'Z') {
                throw new AssertionError("expected an ErrorResponse, got ReadyForQuery");
            }
        }
    }

    /** True when the server closed the connection (EOF) within the socket timeout. */
    public boolean closedByServer() throws IOException {
        try {
            while (true) {
                if (in.read() < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset
        }
    }

    public void setTimeoutMillis(int millis) throws IOException {
        socket.setSoTimeout(millis);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    private static void writeInt(java.io.ByteArrayOutputStream out, int v) {
        out.write(v >>> 24);
        out.write(v >>> 16);
        out.write(v >>> 8);
        out.write(v);
    }

    /** One backend message. */
    public record Message(char type, byte[] body) {
        /** A field of an ErrorResponse/NoticeResponse ('C' = SQLSTATE, 'M' = message, 'S' = severity). */
        public String field(char code) {
            int i = 0;
            while (i < body.length && body[i] != 0) {
                char f = (char) body[i++];
                int end = i;
                while (body[end] != 0) {
                    end++;
                }
                if (f == code) {
                    return new String(body, i, end - i, StandardCharsets.UTF_8);
                }
                i = end + 1;
            }
            return null;
        }
    }
}
