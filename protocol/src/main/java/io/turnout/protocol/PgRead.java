package io.turnout.protocol;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/** Small readers over whole frames; none of them consume or release the frame. */
public final class PgRead {
    private PgRead() {
    }

    /** Offset of the first body byte of a typed frame. */
    public static final int BODY = 5;

    public static byte type(ByteBuf frame) {
        return frame.getByte(frame.readerIndex());
    }

    /** The status byte of a ReadyForQuery frame: 'I', 'T' or 'E'. */
    public static byte readyStatus(ByteBuf frame) {
        return frame.getByte(frame.readerIndex() + BODY);
    }

    /** Reads a NUL-terminated UTF-8 string at {@code index}; throws if it runs past {@code limit}. */
    public static String cstring(ByteBuf buf, int index, int limit) {
        int nul = buf.indexOf(index, limit, (byte) 0);
        if (nul < 0) {
            throw new PgProtocolException("unterminated string in message");
        }
        return buf.toString(index, nul - index, StandardCharsets.UTF_8);
    }

    /** Index just past the NUL that ends the string at {@code index}. */
    public static int skipCstring(ByteBuf buf, int index, int limit) {
        int nul = buf.indexOf(index, limit, (byte) 0);
        if (nul < 0) {
            throw new PgProtocolException("unterminated string in message");
        }
        return nul + 1;
    }

    /** The name and value of a ParameterStatus frame. */
    public static String[] parameterStatus(ByteBuf frame) {
        return parameterStatus(frame, frame.readerIndex());
    }

    /** The name and value of the ParameterStatus frame starting at {@code index} of {@code buf}. */
    public static String[] parameterStatus(ByteBuf buf, int index) {
        int end = index + 1 + buf.getInt(index + 1);
        int i = index + BODY;
        String name = cstring(buf, i, end);
        String value = cstring(buf, skipCstring(buf, i, end), end);
        return new String[] {name, value};
    }

    /** The SQL text of a Query frame. */
    public static String queryText(ByteBuf frame) {
        int end = frame.readerIndex() + 1 + frame.getInt(frame.readerIndex() + 1);
        return cstring(frame, frame.readerIndex() + BODY, end);
    }

    /** The columns of a DataRow frame as text (null for SQL NULL). */
    public static java.util.List<String> dataRow(ByteBuf frame) {
        int i = frame.readerIndex() + BODY;
        int end = frame.readerIndex() + 1 + frame.getInt(frame.readerIndex() + 1);
        int n = frame.getUnsignedShort(i);
        i += 2;
        java.util.List<String> row = new java.util.ArrayList<>(n);
        for (int c = 0; c < n; c++) {
            int len = frame.getInt(i);
            i += 4;
            if (len < 0) {
                row.add(null);
            } else {
                if (i + len > end) {
                    throw new PgProtocolException("DataRow column overruns its message");
                }
                row.add(frame.toString(i, len, StandardCharsets.UTF_8));
                i += len;
            }
        }
        return row;
    }

    /** The payload of a PasswordMessage / SASL response frame, without a trailing NUL for passwords. */
    public static byte[] body(ByteBuf frame) {
        int length = frame.getInt(frame.readerIndex() + 1) - 4;
        byte[] bytes = new byte[length];
        frame.getBytes(frame.readerIndex() + BODY, bytes);
        return bytes;
    }
}
