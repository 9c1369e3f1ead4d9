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
    /** A Parse whose ParseComplete goes to the client / is swallowed (we injected it). */
    static final byte PARSE = 'P';
    static final byte PARSE_SWALLOWED = 'p';
    /** A Close whose CloseComplete goes to the client / is swallowed. */
    static final byte CLOSE = 'C';
    static final byte CLOSE_SWALLOWED = 'x';
    private static final Object NONE = new Object();

    private byte[] ring = new byte[16];
    /** One payload per Parse entry, in order: what to undo if PostgreSQL skips or rejects that Parse. */
    private final java.util.ArrayDeque<Object> parsePayloads = new java.util.ArrayDeque<>();
    private int head;
    private int size;
    private int ready;
    private boolean copyIn;
    /** Extended-protocol messages went out after the last Sync: the server is inside a pipeline. */
    private boolean unsynced;

    /** A client message was forwarded (or, for Parse/Bind/Describe/Close, taken in hand). */
    void sent(byte type) {
        switch (type) {
            case FrontendType.QUERY, FrontendType.FUNCTION_CALL -> {
                push(type);
                ready++;
                unsynced = false;
            }
            case FrontendType.SYNC -> {
                unsynced = false;
                if (!copyIn) { // ignored by PostgreSQL in copy-in mode: earns nothing
                    push(type);
                    ready++;
                }
            }
            case FrontendType.EXECUTE -> {
                push(type);
                unsynced = true;
            }
            case FrontendType.PARSE, FrontendType.BIND, FrontendType.DESCRIBE, FrontendType.CLOSE -> unsynced = true;
            case FrontendType.COPY_DONE, FrontendType.COPY_FAIL -> {
                copyIn = false;
                push(type);
            }
            default -> { }
        }
    }

    /** A Parse went to the server; {@code payload} (may be null) is handed back if it must be undone. */
    void sentParse(boolean swallowed, Object payload) {
        push(swallowed ? PARSE_SWALLOWED : PARSE);
        parsePayloads.add(payload == null ? NONE : payload);
    }

    void sentClose(boolean swallowed) {
        push(swallowed ? CLOSE_SWALLOWED : CLOSE);
    }

    /** A ParseComplete arrived: true when it answers a Parse we injected (swallow it). */
    boolean parseCompleted() {
        int i = indexOf(PARSE, PARSE_SWALLOWED);
        if (i < 0) {
            return false; // not ours to judge (no named-statement handling on this link): forward
        }
        byte t = at(i);
        removeAt(i);
        parsePayloads.poll();
        return t == PARSE_SWALLOWED;
    }

    /** A CloseComplete arrived: true when it answers a Close we injected. */
    boolean closeCompleted() {
        int i = indexOf(CLOSE, CLOSE_SWALLOWED);
        if (i < 0) {
            return false;
        }
        byte t = at(i);
        removeAt(i);
        return t == CLOSE_SWALLOWED;
    }

    /**
     * An ErrorResponse arrived: PostgreSQL skips to the next Sync, so every Parse, Close and Execute still
     * owed before it will never be answered. Hands the payload of each skipped or failed Parse to {@code undo}.
     */
    void errorReceived(java.util.function.Consumer<Object> undo) {
        int write = 0;
        int i = 0;
        for (; i < size; i++) {
            byte t = at(i);
            if (earnsReady(t)) {
                break;
            }
            if (t == PARSE || t == PARSE_SWALLOWED) {
                Object payload = parsePayloads.poll();
                if (payload != NONE) {
                    undo.accept(payload);
                }
            } else if (t != CLOSE && t != CLOSE_SWALLOWED && t != FrontendType.EXECUTE) {
                set(write++, t); // copy markers stay
            }
        }
        for (; i < size; i++) {
            set(write++, at(i));
        }
        size = write;
    }

    /** True while a Parse has not been answered: the server's set of prepared statements is not settled. */
    boolean parsesInFlight() {
        return !parsePayloads.isEmpty();
    }

    /** A ReadyForQuery arrived: it answers the oldest Query, Sync or FunctionCall. */
    void readyReceived() {
        while (size > 0) {
            byte t = pop();
            if (t == PARSE || t == PARSE_SWALLOWED) {
                parsePayloads.poll(); // unanswered yet the group ended: keep payloads aligned
            }
            if (earnsReady(t)) {
                ready--;
                return;
            }
        }
    }

    private int indexOf(byte a, byte b) {
        for (int i = 0; i < size; i++) {
            byte t = at(i);
            if (t == a || t == b) {
                return i;
            }
        }
        return -1;
    }

    private void removeAt(int index) {
        for (int i = index; i < size - 1; i++) {
            set(i, at(i + 1));
        }
        size--;
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

    /** True after an extended-protocol message not yet followed by a Sync: the server may not be handed on. */
    boolean unsynced() {
        return unsynced;
    }

    void clear() {
        head = 0;
        size = 0;
        ready = 0;
        copyIn = false;
        unsynced = false;
        parsePayloads.clear();
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
