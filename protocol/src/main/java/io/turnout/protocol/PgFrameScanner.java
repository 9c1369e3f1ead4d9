package io.turnout.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Splits one direction of a PostgreSQL connection into frames without copying them.
 *
 * <p>A pooler reads only a few frames (ReadyForQuery, ParameterStatus, Terminate, the login exchange);
 * everything else is forwarded byte for byte. So instead of emitting one object per frame, the scanner
 * hands the listener <em>runs</em>: one retained slice of the read buffer covering every consecutive frame
 * the listener chose not to read, including the head of a frame whose tail has not arrived yet (a 64 MiB
 * DataRow streams through in read-sized pieces and is never held whole). Frames the listener asks for
 * are delivered whole, in order, between runs.
 *
 * <p>Not thread-safe: one scanner per channel direction, used on that channel's event loop. Every
 * buffer handed to the listener is owned by it (forward or release). The scanner keeps at most a partial
 * header or a partial wanted frame between reads, and {@link #release()} frees it.
 */
public final class PgFrameScanner {

    /** Receives the frames of one scan, in wire order. */
    public interface Listener {
        /**
         * A frame begins (called once per frame, before its bytes are delivered).
         *
         * @param type the type byte, or {@link FrontendType#UNTYPED} for a startup-phase packet
         * @param length the frame's length field (counts itself, not the type byte)
         * @return true to receive the whole frame through {@link #frame}; false to let it pass in a run
         */
        boolean frameStart(byte type, int length);

        /** Bytes of frames the listener let pass; the listener owns {@code run}. */
        void passThrough(ByteBuf run);

        /** A whole wanted frame, header included; the listener owns {@code frame}. */
        void frame(byte type, ByteBuf frame);
    }

    /** PostgreSQL's own MAX_STARTUP_PACKET_LENGTH. */
    public static final int MAX_STARTUP_LENGTH = 10_000;

    private final ByteBufAllocator alloc;
    private final int maxFrameLength;
    private boolean startupPhase;
    /** Bytes of the current pass-through frame still to come. */
    private long passRemaining;
    /** Partial header or partial wanted frame carried over to the next read; exclusively ours. */
    private ByteBuf cumulation;
    /** When positive, the frame at the head of {@link #cumulation} is wanted and this long in total. */
    private int wantedTotal;
    private byte wantedType;

    /**
     * @param maxFrameLength the largest length field accepted (PgBouncer's max_packet_size)
     * @param startupPhase true when the first frame is an untyped startup packet (the client side)
     */
    public PgFrameScanner(ByteBufAllocator alloc, int maxFrameLength, boolean startupPhase) {
        this.alloc = alloc;
        this.maxFrameLength = maxFrameLength;
        this.startupPhase = startupPhase;
    }

    /** The next frame is an untyped startup packet again (after SSLRequest or GSSENCRequest). */
    public void expectStartup() {
        startupPhase = true;
    }

    /** True while a frame has been partly seen: forwarding the connection elsewhere now would cut it. */
    public boolean midFrame() {
        return passRemaining > 0 || (cumulation != null && cumulation.isReadable());
    }

    /**
     * Scans {@code in} (taking ownership of it) and reports its frames to {@code listener}.
     *
     * @throws PgProtocolException on a length field out of range; the connection must be closed
     */
    public void scan(ByteBuf in, Listener listener) {
        ByteBuf buf;
        if (cumulation != null) {
            buf = cumulation;
            cumulation = null;
            try {
                buf.writeBytes(in);
            } finally {
                in.release();
            }
        } else {
            buf = in;
        }
        try {
            scanBuffer(buf, listener);
        } finally {
            buf.release();
        }
    }

    private void scanBuffer(ByteBuf buf, Listener listener) {
        int runStart = buf.readerIndex();
        if (wantedTotal > 0) {
            if (buf.readableBytes() < wantedTotal) {
                keep(buf, wantedTotal);
                return;
            }
            int total = wantedTotal;
            wantedTotal = 0;
            deliver(buf, listener, wantedType, total);
            runStart = buf.readerIndex();
        }
        while (buf.isReadable()) {
            if (passRemaining > 0) {
                int n = (int) Math.min(passRemaining, buf.readableBytes());
                buf.skipBytes(n);
                passRemaining -= n;
                continue;
            }
            boolean untyped = startupPhase;
            int headerLength = untyped ? 4 : 5;
            if (buf.readableBytes() < headerLength) {
                break;
            }
            int start = buf.readerIndex();
            byte type = untyped ? FrontendType.UNTYPED : buf.getByte(start);
            int length = buf.getInt(untyped ? start : start + 1);
            checkLength(type, length, untyped);
            int total = untyped ? length : length + 1;
            if (untyped) {
                startupPhase = false;
            }
            if (!listener.frameStart(type, length)) {
                long available = buf.readableBytes();
                if (available >= total) {
                    buf.skipBytes(total);
                } else {
                    passRemaining = total - available;
                    buf.skipBytes((int) available);
                }
                continue;
            }
            if (start > runStart) {
                listener.passThrough(buf.retainedSlice(runStart, start - runStart));
            }
            if (buf.readableBytes() < total) {
                wantedType = type;
                wantedTotal = total;
                keep(buf, total);
                return;
            }
            deliver(buf, listener, type, total);
            runStart = buf.readerIndex();
        }
        int end = buf.readerIndex();
        if (end > runStart) {
            listener.passThrough(buf.retainedSlice(runStart, end - runStart));
        }
        if (buf.isReadable()) {
            keep(buf, 256); // a partial header: its frame is not known yet
        }
    }

    private void deliver(ByteBuf buf, Listener listener, byte type, int total) {
        ByteBuf frame = buf.retainedSlice(buf.readerIndex(), total);
        buf.skipBytes(total);
        listener.frame(type, frame);
    }

    /** Copies the unread tail into a fresh buffer sized for what it will become. */
    private void keep(ByteBuf buf, int expectedTotal) {
        int readable = buf.readableBytes();
        // A wanted frame is bounded by maxFrameLength, but reserve modestly: it grows as bytes arrive.
        int capacity = Math.max(readable, Math.min(expectedTotal, 64 * 1024));
        ByteBuf tail = alloc.buffer(capacity);
        tail.writeBytes(buf, buf.readerIndex(), readable);
        buf.skipBytes(readable);
        cumulation = tail;
    }

    private void checkLength(byte type, int length, boolean untyped) {
        if (untyped) {
            if (length < 8 || length > MAX_STARTUP_LENGTH) {
                throw new PgProtocolException("invalid startup packet length " + length);
            }
        } else if (length < 4 || length > maxFrameLength) {
            throw new PgProtocolException(length < 4
                    ? "invalid message length " + length + " for message type '" + (char) type + "'"
                    : "message of " + length + " bytes exceeds max_packet_size " + maxFrameLength);
        }
    }

    /** Frees a carried-over partial frame; call when the channel closes. */
    public void release() {
        if (cumulation != null) {
            cumulation.release();
            cumulation = null;
        }
        wantedTotal = 0;
        passRemaining = 0;
    }
}
