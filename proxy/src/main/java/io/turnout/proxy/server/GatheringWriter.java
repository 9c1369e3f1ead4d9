package io.turnout.proxy.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;

/**
 * Queues client bytes for a server channel until the next flush. Small pieces of one flush (a rewritten Bind,
 * then the Execute and Sync that followed it) are gathered into one buffer: one send() instead of a writev of
 * three, and fewer outbound-buffer entries. A lone piece is never copied. Used on the channel's event loop.
 */
final class GatheringWriter {
    /** Pieces up to this size are copied together rather than sent as separate buffers. */
    private static final int GATHER_MAX = 2048;
    /** Each piece fits in half of it, so a held piece and the next one always fit together. */
    private static final int GATHER_CAPACITY = 2 * GATHER_MAX;

    private final Channel channel;
    /** Pieces written since the last push, gathered while small; ours until pushed. */
    private ByteBuf held;
    /** {@link #held} is a buffer we allocated (so we may append to it), not a piece handed to us. */
    private boolean heldIsOurs;

    GatheringWriter(Channel channel) {
        this.channel = channel;
    }

    /** Queues {@code run} (owned); {@code closed}: the channel is gone and releases what it is given. */
    void write(ByteBuf run, boolean closed) {
        int n = run.readableBytes();
        if (n > GATHER_MAX || closed) {
            push();
            channel.write(run, channel.voidPromise());
            return;
        }
        if (held == null) {
            held = run;
            return;
        }
        if (!heldIsOurs) { // a second small piece: gather both
            ByteBuf gathered = channel.alloc().directBuffer(GATHER_CAPACITY);
            gathered.writeBytes(held);
            held.release();
            held = gathered;
            heldIsOurs = true;
        } else if (held.writableBytes() < n) { // full: it goes as it is, and this piece starts the next
            push();
            held = run;
            return;
        }
        held.writeBytes(run);
        run.release();
    }

    /** Hands what is held to the channel, keeping wire order ahead of a write that bypasses this writer. */
    void push() {
        if (held != null) {
            ByteBuf h = held;
            held = null;
            heldIsOurs = false;
            channel.write(h, channel.voidPromise());
        }
    }

    /** The channel closed: frees what is held. */
    void release() {
        if (held != null) {
            held.release();
            held = null;
            heldIsOurs = false;
        }
    }
}
