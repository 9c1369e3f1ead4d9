package io.turnout.proxy.client;

import io.turnout.protocol.FrontendType;

/**
 * The client requests a server still owes an answer, in order, as one type byte each: Query, Sync and
 * FunctionCall (each earns one ReadyForQuery), Execute, and CopyDone/CopyFail markers. Counting
 * ReadyForQuery alone is not enough because PostgreSQL ignores a Sync that arrives in copy-in mode:
 * libpq's extended-protocol COPY sends Parse/Bind/Execute/Sync, then CopyData/CopyDone/Sync, and gets
 * one ReadyForQuery for the two Syncs. A byte ring; no allocation once it has grown to the pipeline depth.
 */
final class OutstandingRequests {
    private byte[] ring = new byte[16];
    private int head;
    private int size;
    private int ready;
    private boolean copyIn;

    /** A client message was forwarded. */
    void sent(byte type) {
        switch (type) {
            case FrontendType.QUERY, FrontendType.FUNCTION_CALL -> {
                push(type);
                ready++;
            }
            case FrontendType.SYNC -> {
                if (!copyIn) { // ignored by PostgreSQL in copy-in mode: earns nothing
                    push(type);
                    ready++;
                }
            }
            case FrontendType.EXECUTE -> push(type);
            case FrontendType.COPY_DONE, FrontendType.COPY_FAIL -> {
                copyIn = false;
                push(type);
            }
            default -> { }
        }
    }

    /** A ReadyForQuery arrived: it answers the oldest Query, Sync or FunctionCall. */
    void readyReceived() {
        while (size > 0) {
            byte t = pop();
            if (earnsReady(t)) {
                ready--;
                return;
            }
        }
    }

    /**
     * The server entered copy-in mode. When an Execute started it, the Syncs the client sent after that
     * Execute and before its CopyDone/CopyFail reach PostgreSQL in copy-in mode and earn nothing.
     */
    void copyInStarted() {
        int first = -1;
        for (int i = 0; i < size; i++) {
            byte t = at(i);
            if (t == FrontendType.EXECUTE) {
                first = i;
                break;
            }
            if (earnsReady(t)) {
                break; // the copy belongs to a simple Query: its Syncs are not involved
            }
        }
        if (first >= 0) {
            int write = first + 1;
            int i = first + 1;
            for (; i < size; i++) {
                byte t = at(i);
                if (t == FrontendType.COPY_DONE || t == FrontendType.COPY_FAIL) {
                    break;
                }
                if (t == FrontendType.SYNC) {
                    ready--;
                    continue;
                }
                set(write++, t);
            }
            for (; i < size; i++) {
                set(write++, at(i));
            }
            size = write;
            if (!containsCopyEnd(first)) {
                copyIn = true; // Syncs from now until CopyDone/CopyFail are ignored too
            }
        } else if (size > 0 && at(0) == FrontendType.QUERY) {
            copyIn = !containsCopyEnd(0);
        }
    }

    private boolean containsCopyEnd(int from) {
        for (int i = from; i < size; i++) {
            byte t = at(i);
            if (t == FrontendType.COPY_DONE || t == FrontendType.COPY_FAIL) {
                return true;
            }
        }
        return false;
    }

    /** ReadyForQuery messages still owed. */
    int expectedReady() {
        return ready;
    }

    void clear() {
        head = 0;
        size = 0;
        ready = 0;
        copyIn = false;
    }

    private static boolean earnsReady(byte t) {
        return t == FrontendType.QUERY || t == FrontendType.SYNC || t == FrontendType.FUNCTION_CALL;
    }

    private void push(byte t) {
        if (size == ring.length) {
            byte[] bigger = new byte[ring.length * 2];
            for (int i = 0; i < size; i++) {
                bigger[i] = at(i);
            }
            ring = bigger;
            head = 0;
        }
        ring[(head + size++) & (ring.length - 1)] = t;
    }

    private byte pop() {
        byte t = ring[head];
        head = (head + 1) & (ring.length - 1);
        size--;
        return t;
    }

    private byte at(int i) {
        return ring[(head + i) & (ring.length - 1)];
    }

    private void set(int i, byte t) {
        ring[(head + i) & (ring.length - 1)] = t;
    }
}
