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

    /** Let the frame pass in a run, unseen. */
    public static final int PASS = 0;
    /** Deliver the frame whole and apart, through {@link Listener#frame}. */
    public static final int WHOLE = 1;
    /**
     * Let the frame pass, ending the run with it, then show it through {@link Listener#inspect}: the pooler
     * reads it after it was handed on, so a reply and its ReadyForQuery leave in one write.
     */
    public static final int INSPECT = 2;

    /** Receives the frames of one scan, in wire order. */
    public interface Listener {
        /**
         * A frame begins (called once per frame, before its bytes are delivered).
         *
         * @param type the type byte, or {@link FrontendType#UNTYPED} for a startup-phase packet
         * @param length the frame's length field (counts itself, not the type byte)
         * @return {@link #PASS}, {@link #WHOLE} or {@link #INSPECT}
         */
        int frameStart(byte type, int length);

        /**
         * The same, with a look at the body bytes already read: {@code readable} bytes from
         * {@code bodyIndex} of {@code buf} (read only, during this call). A listener that needs bytes not
         * yet there must answer WHOLE. By default the bytes are ignored.
         */
        default int frameStart(byte type, int length, ByteBuf buf, int bodyIndex, int readable) {
            return frameStart(type, length);
        }

        /** Bytes of frames the listener let pass; the listener owns {@code run}. */
        void passThrough(ByteBuf run);

        /** A whole wanted frame, header included; the listener owns {@code frame}. */
        void frame(byte type, ByteBuf frame);

        /**
         * An INSPECT frame, already handed on at the end of the last run: it starts at {@code index} of
         * {@code buf}, which the listener must only read, and only during this call.
         */
        default void inspect(byte type, ByteBuf buf, int index) {
        }
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
    private boolean wantedInspect;

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
            } catch (RuntimeException | Error e) {
                buf.release();
                throw e;
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
            deliver(buf, listener, wantedType, total, wantedInspect);
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
            int bodyIndex = start + headerLength;
            int disposition = listener.frameStart(type, length, buf, bodyIndex,
                    Math.min(buf.writerIndex(), start + total) - bodyIndex);
            if (disposition == PASS) {
                long available = buf.readableBytes();
                if (available >= total) {
                    buf.skipBytes(total);
                } else {
                    passRemaining = total - available;
                    buf.skipBytes((int) available);
                }
                continue;
            }
            boolean inspect = disposition == INSPECT;
            if (inspect && buf.readableBytes() >= total) {
                // the common case: the frame is here, so it simply ends the run
                buf.skipBytes(total);
                listener.passThrough(buf.retainedSlice(runStart, buf.readerIndex() - runStart));
                listener.inspect(type, buf, start);
                runStart = buf.readerIndex();
                continue;
            }
            if (start > runStart) {
                listener.passThrough(buf.retainedSlice(runStart, start - runStart));
            }
            if (buf.readableBytes() < total) {
                wantedType = type;
                wantedTotal = total;
                wantedInspect = inspect;
                keep(buf, total);
                return;
            }
            deliver(buf, listener, type, total, false);
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

    private void deliver(ByteBuf buf, Listener listener, byte type, int total, boolean inspect) {
        int start = buf.readerIndex();
        if (inspect) {
            buf.skipBytes(total);
            listener.passThrough(buf.retainedSlice(start, total));
            listener.inspect(type, buf, start);
            return;
        }
        ByteBuf frame = buf.retainedSlice(start, total);
        buf.skipBytes(total);
        listener.frame(type, frame);
    }

    /**
     * Keeps the unread tail for the next read: in place when {@code buf} is already our cumulation and no
     * slice of it was handed out (so a large wanted frame is not copied again on every read), otherwise
     * copied into a fresh buffer sized for what it will become.
     */
    private void keep(ByteBuf buf, int expectedTotal) {
        if (buf.refCnt() == 1 && buf.readerIndex() == 0 && buf.isWritable() && buf.maxCapacity() >= expectedTotal) {
            cumulation = buf.retain(); // scan() releases its reference; this one is ours
            return;
        }
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
