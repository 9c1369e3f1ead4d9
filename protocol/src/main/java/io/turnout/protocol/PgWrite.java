package io.turnout.protocol;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Writers for the messages Turnout originates itself. Each appends one complete frame to {@code out}, so
 * several can share one buffer and one write.
 */
public final class PgWrite {
    public static final int PROTOCOL_3_0 = 196608;
    public static final int CANCEL_REQUEST_CODE = 80877102;
    public static final int SSL_REQUEST_CODE = 80877103;
    public static final int GSSENC_REQUEST_CODE = 80877104;

    private PgWrite() {
    }

    // ---- backend messages (Turnout speaking as a server to its clients) ----

    public static void errorResponse(ByteBuf out, String severity, String sqlState, String message) {
        errorResponse(out, BackendType.ERROR_RESPONSE, severity, sqlState, message, null);
    }

    /** ErrorResponse or NoticeResponse (same layout) with the fields clients show: S, V, C, M and D. */
    public static void errorResponse(ByteBuf out, byte type, String severity, String sqlState, String message,
                                     String detail) {
        int mark = begin(out, type);
        out.writeByte('S');
        cstring(out, severity);
        out.writeByte('V');
        cstring(out, severity);
        out.writeByte('C');
        cstring(out, sqlState);
        out.writeByte('M');
        field(out, message);
        if (detail != null) {
            out.writeByte('D');
            field(out, detail);
        }
        out.writeByte(0);
        end(out, mark);
    }

    public static void readyForQuery(ByteBuf out, byte status) {
        out.writeByte(BackendType.READY_FOR_QUERY);
        out.writeInt(5);
        out.writeByte(status);
    }

    public static void parameterStatus(ByteBuf out, String name, String value) {
        int mark = begin(out, BackendType.PARAMETER_STATUS);
        cstring(out, name);
        cstring(out, value);
        end(out, mark);
    }

    public static void backendKeyData(ByteBuf out, int processId, int secretKey) {
        out.writeByte(BackendType.BACKEND_KEY_DATA);
        out.writeInt(12);
        out.writeInt(processId);
        out.writeInt(secretKey);
    }

    public static void authenticationOk(ByteBuf out) {
        authentication(out, AuthRequest.OK, null);
    }

    public static void authenticationCleartext(ByteBuf out) {
        authentication(out, AuthRequest.CLEARTEXT, null);
    }

    public static void authenticationMd5(ByteBuf out, byte[] salt) {
        authentication(out, AuthRequest.MD5, salt);
    }

    public static void authenticationSasl(ByteBuf out, List<String> mechanisms) {
        int mark = begin(out, BackendType.AUTHENTICATION);
        out.writeInt(AuthRequest.SASL);
        for (String m : mechanisms) {
            cstring(out, m);
        }
        out.writeByte(0);
        end(out, mark);
    }

    public static void authenticationSaslContinue(ByteBuf out, byte[] data) {
        authentication(out, AuthRequest.SASL_CONTINUE, data);
    }

    public static void authenticationSaslFinal(ByteBuf out, byte[] data) {
        authentication(out, AuthRequest.SASL_FINAL, data);
    }

    private static void authentication(ByteBuf out, int code, byte[] data) {
        int mark = begin(out, BackendType.AUTHENTICATION);
        out.writeInt(code);
        if (data != null) {
            out.writeBytes(data);
        }
        end(out, mark);
    }

    /** Tells a client asking for a newer 3.x minor version which one we speak and what we ignored. */
    public static void negotiateProtocolVersion(ByteBuf out, int newestMinor, List<String> unrecognizedOptions) {
        int mark = begin(out, BackendType.NEGOTIATE_PROTOCOL_VERSION);
        out.writeInt(newestMinor);
        out.writeInt(unrecognizedOptions.size());
        for (String o : unrecognizedOptions) {
            cstring(out, o);
        }
        end(out, mark);
    }

    public static void commandComplete(ByteBuf out, String tag) {
        int mark = begin(out, BackendType.COMMAND_COMPLETE);
        cstring(out, tag);
        end(out, mark);
    }

    /**
     * RowDescription for a result Turnout makes itself (the admin console): every column in text format,
     * typed by {@code typeOids} (25 text, 23 int4, 20 int8, 1700 numeric...).
     */
    public static void rowDescription(ByteBuf out, List<String> names, int[] typeOids) {
        int mark = begin(out, BackendType.ROW_DESCRIPTION);
        out.writeShort(names.size());
        for (int i = 0; i < names.size(); i++) {
            cstring(out, names.get(i));
            out.writeInt(0);                                   // table oid
            out.writeShort(0);                                 // column number
            out.writeInt(typeOids[i]);
            out.writeShort(typeOids[i] == 23 ? 4 : typeOids[i] == 20 ? 8 : -1); // type size
            out.writeInt(-1);                                  // type modifier
            out.writeShort(0);                                 // text format
        }
        end(out, mark);
    }

    /** DataRow of text values; a null value is SQL NULL. */
    public static void dataRow(ByteBuf out, List<String> values) {
        int mark = begin(out, BackendType.DATA_ROW);
        out.writeShort(values.size());
        for (String v : values) {
            if (v == null) {
                out.writeInt(-1);
            } else {
                int len = out.writerIndex();
                out.writeInt(0);
                int n = out.writeCharSequence(v, StandardCharsets.UTF_8);
                out.setInt(len, n);
            }
        }
        end(out, mark);
    }

    public static void emptyQueryResponse(ByteBuf out) {
        out.writeByte(BackendType.EMPTY_QUERY_RESPONSE);
        out.writeInt(4);
    }

    // ---- frontend messages (Turnout speaking as a client to PostgreSQL) ----

    public static void startupMessage(ByteBuf out, Map<String, String> parameters) {
        int mark = out.writerIndex();
        out.writeInt(0);
        out.writeInt(PROTOCOL_3_0);
        for (Map.Entry<String, String> e : parameters.entrySet()) {
            cstring(out, e.getKey());
            cstring(out, e.getValue());
        }
        out.writeByte(0);
        out.setInt(mark, out.writerIndex() - mark);
    }

    public static void cancelRequest(ByteBuf out, int processId, int secretKey) {
        out.writeInt(16);
        out.writeInt(CANCEL_REQUEST_CODE);
        out.writeInt(processId);
        out.writeInt(secretKey);
    }

    /** PasswordMessage carrying a NUL-terminated password (cleartext or md5 response). */
    public static void passwordMessage(ByteBuf out, byte[] password) {
        int mark = begin(out, FrontendType.PASSWORD);
        out.writeBytes(password);
        out.writeByte(0);
        end(out, mark);
    }

    public static void saslInitialResponse(ByteBuf out, String mechanism, byte[] data) {
        int mark = begin(out, FrontendType.PASSWORD);
        cstring(out, mechanism);
        out.writeInt(data.length);
        out.writeBytes(data);
        end(out, mark);
    }

    public static void saslResponse(ByteBuf out, byte[] data) {
        int mark = begin(out, FrontendType.PASSWORD);
        out.writeBytes(data);
        end(out, mark);
    }

    public static void query(ByteBuf out, String sql) {
        int mark = begin(out, FrontendType.QUERY);
        cstring(out, sql);
        end(out, mark);
    }

    /** Parse of a statement with unspecified parameter types. */
    public static void parse(ByteBuf out, String statement, String sql) {
        int mark = begin(out, FrontendType.PARSE);
        cstring(out, statement);
        cstring(out, sql);
        out.writeShort(0);
        end(out, mark);
    }

    /** Bind with text parameters (null = SQL NULL) and text results. */
    public static void bind(ByteBuf out, String portal, String statement, java.util.List<String> params) {
        int mark = begin(out, FrontendType.BIND);
        cstring(out, portal);
        cstring(out, statement);
        out.writeShort(0);
        out.writeShort(params.size());
        for (String p : params) {
            if (p == null) {
                out.writeInt(-1);
            } else {
                byte[] b = p.getBytes(StandardCharsets.UTF_8);
                out.writeInt(b.length);
                out.writeBytes(b);
            }
        }
        out.writeShort(0);
        end(out, mark);
    }

    public static void execute(ByteBuf out, String portal, int maxRows) {
        int mark = begin(out, FrontendType.EXECUTE);
        cstring(out, portal);
        out.writeInt(maxRows);
        end(out, mark);
    }

    public static void sync(ByteBuf out) {
        out.writeByte(FrontendType.SYNC);
        out.writeInt(4);
    }

    public static void terminate(ByteBuf out) {
        out.writeByte(FrontendType.TERMINATE);
        out.writeInt(4);
    }

    // ---- helpers ----

    /** Writes the type byte and a length placeholder; returns the placeholder's index for {@link #end}. */
    public static int begin(ByteBuf out, byte type) {
        out.writeByte(type);
        int mark = out.writerIndex();
        out.writeInt(0);
        return mark;
    }

    public static void end(ByteBuf out, int mark) {
        out.setInt(mark, out.writerIndex() - mark);
    }

    /** A text field of an error: a NUL inside would end the field early and turn the rest into bogus fields. */
    private static void field(ByteBuf out, String s) {
        cstring(out, s.indexOf('\0') < 0 ? s : s.replace("\0", "\\0"));
    }

    public static void cstring(ByteBuf out, String s) {
        out.writeCharSequence(s, StandardCharsets.UTF_8);
        out.writeByte(0);
    }
}
