package io.turnout.protocol;

import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;

/** An Authentication* message from PostgreSQL: its request code and the bytes after it. */
public record AuthRequest(int code, byte[] data) {
    public static final int OK = 0;
    public static final int CLEARTEXT = 3;
    public static final int MD5 = 5;
    public static final int SASL = 10;
    public static final int SASL_CONTINUE = 11;
    public static final int SASL_FINAL = 12;

    /** Parses a whole 'R' frame (header included) without consuming it. */
    public static AuthRequest parse(ByteBuf frame) {
        int start = frame.readerIndex();
        int length = frame.getInt(start + 1);
        if (length < 8) {
            throw new PgProtocolException("Authentication message too short");
        }
        int code = frame.getInt(start + 5);
        byte[] data = new byte[length - 8];
        frame.getBytes(start + 9, data);
        return new AuthRequest(code, data);
    }

    /** The SASL mechanism names of an AuthenticationSASL request. */
    public List<String> mechanisms() {
        List<String> names = new ArrayList<>();
        int from = 0;
        for (int i = 0; i < data.length; i++) {
            if (data[i] == 0) {
                if (i == from) {
                    break;
                }
                names.add(new String(data, from, i - from, java.nio.charset.StandardCharsets.UTF_8));
                from = i + 1;
            }
        }
        return names;
    }
}
