package io.turnout.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.turnout.config.ListenMode;
import io.turnout.protocol.FrontendType;
import io.turnout.protocol.PgRead;
import java.nio.charset.StandardCharsets;

/**
 * LISTEN outside session mode. A notification arrives on the server connection that ran LISTEN, which
 * transaction pooling gives to other clients: so LISTEN is refused with 0A000 (listen_mode: error), or the
 * client keeps its server until UNLISTEN * or its disconnect (listen_mode: pin).
 *
 * <p>Cheap on the hot path: {@link #mayMatter} looks only at the first significant bytes of a Query or
 * Parse and lets everything that cannot start with LISTEN or UNLISTEN pass unseen; only the few frames
 * that might are delivered whole and read by {@link #onStatement}.
 */
final class ListenGuard {
    private static final int OTHER = 0;
    private static final int LISTEN = 1;
    private static final int UNLISTEN = 2;
    private static final int UNLISTEN_ALL = 3;
    /** Not decidable from the bytes at hand. */
    private static final int UNKNOWN = 4;
    /** The largest frame held whole only because its first bytes had not arrived. */
    static final int MAX_UNDECIDED_WHOLE = 8192;

    /**
     * Run by the server in place of a refused LISTEN, so the error comes in order with the replies to
     * whatever the client pipelined around it (a simple Query's ReadyForQuery, an extended one's Sync).
     */
    static final String REFUSAL = "DO $turnout$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = "
            + "'LISTEN is not supported in transaction pooling mode: notifications would reach whichever client "
            + "uses this server connection next', HINT = 'Use a database in session pooling mode (pool_mode: "
            + "session) for LISTEN, or set listen_mode: pin in Turnout''s configuration.'; END$turnout$";

    private final ListenMode mode;
    private boolean pinned;

    ListenGuard(ListenMode mode) {
        this.mode = mode;
    }

    /** True while the client must keep its server (it listens, listen_mode: pin). */
    boolean pinned() {
        return pinned;
    }

    /**
     * From the first {@code readable} body bytes at {@code at}: true when a Query or Parse frame of
     * {@code length} may be (UN)LISTEN and must be delivered whole to {@link #onStatement}.
     */
    static boolean mayMatter(byte type, int length, ByteBuf buf, int at, int readable) {
        int end = at + readable;
        int kind = UNKNOWN;
        if (type == FrontendType.PARSE) {
            int nul = readable > 0 ? buf.indexOf(at, end, (byte) 0) : -1; // end of the statement name
            if (nul >= 0) {
                kind = classify(buf, nul + 1, end);
            }
        } else {
            kind = classify(buf, at, end);
        }
        // A big frame streams on undecided: a real LISTEN is short (a channel name is at most 63 bytes),
        // and one hidden behind kilobytes of comments is still undone by the server's LISTEN tag.
        return kind == UNKNOWN ? length <= MAX_UNDECIDED_WHOLE : kind != OTHER;
    }

    /**
     * A whole Query or Parse frame (owned) that {@link #mayMatter}: returns the frame to forward in its
     * place (owned by the caller; the given one is released when replaced).
     */
    ByteBuf onStatement(byte type, ByteBuf frame, ByteBufAllocator alloc) {
        int start = frame.readerIndex() + PgRead.BODY;
        int end = frame.readerIndex() + 1 + frame.getInt(frame.readerIndex() + 1);
        int text = type == FrontendType.PARSE ? PgRead.skipCstring(frame, start, end) : start;
        int kind = classify(frame, text, end);
        if (kind == UNLISTEN_ALL) {
            pinned = false;
        } else if (kind == LISTEN) {
            if (mode == ListenMode.PIN) {
                pinned = true;
            } else {
                ByteBuf refusal = refusal(type, frame, start, text, end, alloc);
                frame.release();
                return refusal;
            }
        }
        return frame;
    }

    /** The frame with its SQL text replaced by {@link #REFUSAL}; a Parse keeps its name and parameter types. */
    private static ByteBuf refusal(byte type, ByteBuf frame, int start, int text, int end, ByteBufAllocator alloc) {
        int textEnd = frame.indexOf(text, end, (byte) 0);
        int rest = textEnd < 0 ? end : textEnd + 1; // a Parse's parameter types follow its text
        byte[] sql = REFUSAL.getBytes(StandardCharsets.UTF_8);
        ByteBuf out = alloc.buffer(1 + 4 + (text - start) + sql.length + 1 + (end - rest));
        out.writeByte(type).writeInt(0);
        out.writeBytes(frame, start, text - start);
        out.writeBytes(sql).writeByte(0);
        out.writeBytes(frame, rest, end - rest);
        out.setInt(1, out.writerIndex() - 1);
        return out;
    }

    /** What the SQL text in [at, end) starts with, after whitespace and comments. */
    static int classify(ByteBuf b, int at, int end) {
        at = skipSpace(b, at, end);
        if (at < 0) {
            return UNKNOWN;
        }
        if (at >= end) {
            return UNKNOWN; // the bytes at hand end before the first word: look at the whole frame
        }
        int word = keyword(b, at, end, "LISTEN");
        if (word != OTHER) {
            return word == UNKNOWN ? UNKNOWN : LISTEN;
        }
        word = keyword(b, at, end, "UNLISTEN");
        if (word == OTHER || word == UNKNOWN) {
            return word;
        }
        int next = skipSpace(b, at + "UNLISTEN".length(), end);
        if (next < 0 || next >= end) {
            return UNKNOWN;
        }
        return b.getByte(next) == '*' ? UNLISTEN_ALL : UNLISTEN;
    }

    /** LISTEN (1) when {@code word} starts at {@code at} as a whole word, OTHER, or UNKNOWN when cut short. */
    private static int keyword(ByteBuf b, int at, int end, String word) {
        for (int i = 0; i < word.length(); i++) {
            if (at + i >= end) {
                return UNKNOWN;
            }
            int c = b.getByte(at + i) & 0xff;
            if (c != word.charAt(i) && c != Character.toLowerCase(word.charAt(i))) {
                return OTHER;
            }
        }
        if (at + word.length() >= end) {
            return UNKNOWN;
        }
        int c = b.getByte(at + word.length()) & 0xff;
        boolean identifier = Character.isLetterOrDigit(c) || c == '_' || c == '$' || c >= 0x80;
        return identifier ? OTHER : LISTEN;
    }

    /** The index of the first byte after whitespace and comments; -1 inside an unfinished comment. */
    private static int skipSpace(ByteBuf b, int at, int end) {
        int depth = 0; // /* */ comments nest in PostgreSQL
        while (at < end) {
            byte c = b.getByte(at);
            if (depth > 0) {
                if (c == '*' && at + 1 < end && b.getByte(at + 1) == '/') {
                    depth--;
                    at += 2;
                } else if (c == '/' && at + 1 < end && b.getByte(at + 1) == '*') {
                    depth++;
                    at += 2;
                } else {
                    at++;
                }
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
                at++;
            } else if (c == '-' || c == '/') {
                if (at + 1 >= end) {
                    return -1;
                }
                byte d = b.getByte(at + 1);
                if (c == '-' && d == '-') {
                    int nl = b.indexOf(at, end, (byte) '\n');
                    if (nl < 0) {
                        return -1;
                    }
                    at = nl + 1;
                } else if (c == '/' && d == '*') {
                    depth = 1;
                    at += 2;
                } else {
                    return at;
                }
            } else {
                return at;
            }
        }
        return depth > 0 ? -1 : at;
    }
}
