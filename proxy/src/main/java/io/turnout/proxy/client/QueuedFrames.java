package io.turnout.proxy.client;

import io.netty.buffer.ByteBuf;
import io.turnout.proxy.server.ServerConnection;
import java.util.ArrayDeque;

/**
 * What a client sent while no server was linked, in order: runs of frames passed through untouched
 * (ByteBuf) and whole statement frames held for translation (Parse, Bind, Describe, Close). Owns every
 * buffer it holds until {@link #writeTo} hands them to a server or {@link #release} drops them.
 */
final class QueuedFrames {
    private record StatementFrame(byte type, ByteBuf frame) {
    }

    private final ArrayDeque<Object> items = new ArrayDeque<>(4);
    private int bytes;

    /** Takes ownership of {@code run}; returns the bytes now queued. */
    int addRun(ByteBuf run) {
        items.add(run);
        bytes += run.readableBytes();
        return bytes;
    }

    /** Takes ownership of a whole statement frame; returns the bytes now queued. */
    int addStatement(byte type, ByteBuf frame) {
        items.add(new StatementFrame(type, frame));
        bytes += frame.readableBytes();
        return bytes;
    }

    boolean isEmpty() {
        return items.isEmpty();
    }

    /** Writes everything to {@code server}, statement frames translated by {@code statements}. */
    void writeTo(ServerConnection server, NamedStatements statements, OutstandingRequests outstanding) {
        Object item;
        while ((item = items.poll()) != null) {
            if (item instanceof StatementFrame f) {
                statements.forward(f.type(), f.frame(), server, outstanding);
            } else {
                server.write((ByteBuf) item);
            }
        }
        bytes = 0;
    }

    void release() {
        Object item;
        while ((item = items.poll()) != null) {
            (item instanceof StatementFrame f ? f.frame() : (ByteBuf) item).release();
        }
        bytes = 0;
    }
}
