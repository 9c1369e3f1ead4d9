package io.turnout.protocol;

import io.netty.buffer.ByteBuf;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An untyped startup-phase packet: StartupMessage, SSLRequest, GSSENCRequest or CancelRequest.
 * For a CancelRequest, {@code processId} and {@code secretKey} are set; for a StartupMessage, the
 * parameters in the order the client sent them.
 */
public record StartupPacket(int code, Map<String, String> parameters, int processId, int secretKey) {

    public boolean isSslRequest() {
        return code == PgWrite.SSL_REQUEST_CODE;
    }

    public boolean isGssEncRequest() {
        return code == PgWrite.GSSENC_REQUEST_CODE;
    }

    public boolean isCancelRequest() {
        return code == PgWrite.CANCEL_REQUEST_CODE;
    }

    public int majorVersion() {
        return code >>> 16;
    }

    public int minorVersion() {
        return code & 0xffff;
    }

    /** Parses a whole untyped frame (length word first) without consuming it. */
    public static StartupPacket parse(ByteBuf frame) {
        int start = frame.readerIndex();
        int end = start + frame.getInt(start);
        int code = frame.getInt(start + 4);
        if (code == PgWrite.CANCEL_REQUEST_CODE) {
            if (end - start != 16) {
                throw new PgProtocolException("invalid length of CancelRequest");
            }
            return new StartupPacket(code, Map.of(), frame.getInt(start + 8), frame.getInt(start + 12));
        }
        if (code == PgWrite.SSL_REQUEST_CODE || code == PgWrite.GSSENC_REQUEST_CODE) {
            return new StartupPacket(code, Map.of(), 0, 0);
        }
        if (code >>> 16 != 3) {
            throw new PgProtocolException(SqlState.FEATURE_NOT_SUPPORTED, "unsupported frontend protocol "
                    + (code >>> 16) + "." + (code & 0xffff) + ": server supports 3.0 to 3.0");
        }
        Map<String, String> params = new LinkedHashMap<>();
        int i = start + 8;
        while (i < end && frame.getByte(i) != 0) {
            String name = PgRead.cstring(frame, i, end);
            i = PgRead.skipCstring(frame, i, end);
            if (i >= end) {
                throw new PgProtocolException("invalid startup packet layout: expected terminator as last byte");
            }
            String value = PgRead.cstring(frame, i, end);
            i = PgRead.skipCstring(frame, i, end);
            params.put(name, value);
        }
        if (i != end - 1) {
            throw new PgProtocolException("invalid startup packet layout: expected terminator as last byte");
        }
        return new StartupPacket(code, Collections.unmodifiableMap(params), 0, 0);
    }
}
