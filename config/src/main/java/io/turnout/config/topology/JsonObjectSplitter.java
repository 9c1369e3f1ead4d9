package io.turnout.config.topology;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Cuts a byte stream of concatenated JSON objects (etcd's watch reply: one object per message, usually
 * newline-separated, in HTTP chunks that split them anywhere) into whole objects. It tracks only nesting,
 * strings and escapes, so a chunk boundary inside a string, an escape or a multi-byte UTF-8 character
 * does not matter: every structural character is ASCII. Not thread-safe; one per stream.
 */
final class JsonObjectSplitter {
    /** A watch message carries one revision's events; a larger one means a broken stream, not data. */
    static final int MAX_OBJECT_BYTES = 16 << 20;

    private byte[] buf = new byte[8192];
    private int len;
    private int depth;
    private boolean inString;
    private boolean escaped;

    /** Consumes all of {@code in}; hands each completed object to {@code out} (a fresh array each). */
    void feed(ByteBuffer in, Consumer<byte[]> out) throws IOException {
        while (in.hasRemaining()) {
            byte b = in.get();
            if (depth == 0) {
                if (b == ' ' || b == '\n' || b == '\r' || b == '\t') {
                    continue; // between objects
                }
                if (b != '{') {
                    throw new IOException("expected a JSON object, got byte 0x" + Integer.toHexString(b & 0xff));
                }
            }
            append(b);
            if (inString) {
                if (escaped) {
                    escaped = false;
                } else if (b == '\\') {
                    escaped = true;
                } else if (b == '"') {
                    inString = false;
                }
            } else if (b == '"') {
                inString = true;
            } else if (b == '{' || b == '[') {
                depth++;
            } else if ((b == '}' || b == ']') && --depth == 0) {
                out.accept(Arrays.copyOf(buf, len));
                len = 0;
            }
        }
    }

    /** True when a partial object is buffered (the stream ended mid-object). */
    boolean partial() {
        return len > 0;
    }

    private void append(byte b) throws IOException {
        if (len == buf.length) {
            if (len >= MAX_OBJECT_BYTES) {
                throw new IOException("a JSON object longer than " + MAX_OBJECT_BYTES + " bytes");
            }
            buf = Arrays.copyOf(buf, Math.min(len * 2, MAX_OBJECT_BYTES));
        }
        buf[len++] = b;
    }
}
