package io.turnout.proxy.client;

import io.netty.buffer.ByteBuf;
import io.turnout.protocol.FrontendType;
import io.turnout.protocol.PgRead;
import io.turnout.protocol.PgWrite;
import io.turnout.proxy.pool.PreparedStatements;
import io.turnout.proxy.pool.PreparedStatements.Statement;
import io.turnout.proxy.pool.ShardStats;
import io.turnout.proxy.server.ServerConnection;
import java.util.HashMap;
import java.util.Map;

/**
 * One client's named prepared statements under transaction pooling, where each transaction may run on
 * another server. The client's names map to pooler-wide server names ({@link PreparedStatements}); every
 * Parse, Bind, Describe and Close that names a statement is rewritten, and a Parse is injected (its reply
 * swallowed) before a Bind or Describe on a server that lacks the statement.
 *
 * <p>Every client Parse and Close still earns a real reply from the server, so replies never need to be
 * invented and ordered by hand: a Parse of a statement the server already has becomes Close + Parse
 * (the CloseComplete swallowed), and a client Close of a statement becomes a Close of a name no server
 * has, which PostgreSQL answers with CloseComplete. Unnamed statements and portals pass untouched.
 */
final class NamedStatements {
    /** A name no server ever has: closing it is a no-op that still answers CloseComplete. */
    private static final String NO_SUCH_STATEMENT = "turnout_closed";

    /** What to undo when PostgreSQL rejects or skips a Parse we sent. */
    record ParseUndo(String serverName, String clientName, Statement statement) {
    }

    private final Map<String, Statement> byClientName = new HashMap<>();
    private final PreparedStatements registry;
    private final int maxPerServer;
    private final ShardStats stats;

    NamedStatements(PreparedStatements registry, int maxPerServer, ShardStats stats) {
        this.registry = registry;
        this.maxPerServer = maxPerServer;
        this.stats = stats;
    }

    /** How many statements this client holds (SHOW CLIENTS' prepared_statements). */
    int size() {
        return byClientName.size();
    }

    /**
     * True when the frame, from the bytes at hand, surely names no prepared statement (the unnamed one, or
     * a portal): it then passes untouched in the run, and only its reply is accounted for here.
     */
    static boolean namesNoStatement(byte type, ByteBuf buf, int at, int readable, OutstandingRequests outstanding) {
        switch (type) {
            case FrontendType.PARSE -> {
                if (readable >= 1 && buf.getByte(at) == 0) {
                    outstanding.sentParse(false, null);
                    return true;
                }
                return false;
            }
            case FrontendType.BIND -> {
                int nul = readable > 0 ? buf.indexOf(at, at + readable, (byte) 0) : -1; // end of the portal name
                return nul >= 0 && nul + 1 < at + readable && buf.getByte(nul + 1) == 0;
            }
            default -> { // Describe, Close: a kind byte, then the name
                if (readable < 2) {
                    return false;
                }
                if (buf.getByte(at) == 'P' || buf.getByte(at + 1) == 0) {
                    if (type == FrontendType.CLOSE) {
                        outstanding.sentClose(false);
                    }
                    return true;
                }
                return false;
            }
        }
    }

    /** Forwards a whole Parse, Bind, Describe or Close frame (owned) to {@code server}, translated. */
    void forward(byte type, ByteBuf frame, ServerConnection server, OutstandingRequests log) {
        try {
            switch (type) {
                case FrontendType.PARSE -> parse(frame, server, log);
                case FrontendType.BIND -> bind(frame, server, log);
                case FrontendType.DESCRIBE -> describe(frame, server, log);
                default -> close(frame, server, log);
            }
        } finally {
            frame.release();
        }
    }

    private static int end(ByteBuf frame) {
        return frame.readerIndex() + 1 + frame.getInt(frame.readerIndex() + 1);
    }

    private void parse(ByteBuf frame, ServerConnection server, OutstandingRequests log) {
        int start = frame.readerIndex() + PgRead.BODY;
        int end = end(frame);
        String name = PgRead.cstring(frame, start, end);
        if (name.isEmpty()) {
            log.sentParse(false, null);
            server.write(frame.retain());
            return;
        }
        stats.clientParse();
        Statement existing = byClientName.get(name);
        if (existing != null) {
            existing.counters().clientParses.increment();
            // PostgreSQL answers 42P05 when a name is prepared twice: make the server say it for us.
            ensurePrepared(existing, server, log);
            log.sentParse(false, null);
            writeParse(server, existing);
            return;
        }
        int bodyStart = PgRead.skipCstring(frame, start, end);
        byte[] body = new byte[end - bodyStart];
        frame.getBytes(bodyStart, body);
        Statement st = registry.intern(body);
        st.counters().clientParses.increment();
        byClientName.put(name, st);
        if (server.prepared().has(st.serverName())) {
            log.sentClose(true);
            writeClose(server, 'S', st.serverName());
        }
        log.sentParse(false, new ParseUndo(st.serverName(), name, st));
        writeParse(server, st);
        serverParsed(st);
        remember(st, server, log);
    }

    private void serverParsed(Statement st) {
        stats.serverParse();
        st.counters().serverParses.increment();
    }

    private void bind(ByteBuf frame, ServerConnection server, OutstandingRequests log) {
        int start = frame.readerIndex() + PgRead.BODY;
        int end = end(frame);
        int stmtAt = PgRead.skipCstring(frame, start, end);
        String name = PgRead.cstring(frame, stmtAt, end);
        Statement st = name.isEmpty() ? null : byClientName.get(name);
        if (st == null) {
            server.write(frame.retain()); // unnamed, or unknown: PostgreSQL reports 26000 itself
            return;
        }
        stats.bind();
        st.counters().binds.increment();
        ensurePrepared(st, server, log);
        int restAt = PgRead.skipCstring(frame, stmtAt, end);
        int portalLength = stmtAt - start; // with its NUL
        byte[] serverName = st.serverNameBytes();
        int rest = end - restAt;
        ByteBuf head = server.channel().alloc().buffer(5 + portalLength + serverName.length + 1);
        head.writeByte(FrontendType.BIND);
        head.writeInt(4 + portalLength + serverName.length + 1 + rest);
        head.writeBytes(frame, start, portalLength);
        head.writeBytes(serverName).writeByte(0);
        server.write(head);
        server.write(frame.retainedSlice(restAt, rest)); // parameters pass without a copy
    }

    private void describe(ByteBuf frame, ServerConnection server, OutstandingRequests log) {
        int start = frame.readerIndex() + PgRead.BODY;
        byte kind = frame.getByte(start);
        String name = PgRead.cstring(frame, start + 1, end(frame));
        Statement st = kind == 'S' && !name.isEmpty() ? byClientName.get(name) : null;
        if (st == null) {
            server.write(frame.retain());
            return;
        }
        ensurePrepared(st, server, log);
        ByteBuf out = server.channel().alloc().buffer(16 + st.serverName().length());
        int mark = PgWrite.begin(out, FrontendType.DESCRIBE);
        out.writeByte('S');
        PgWrite.cstring(out, st.serverName());
        PgWrite.end(out, mark);
        server.write(out);
    }

    private void close(ByteBuf frame, ServerConnection server, OutstandingRequests log) {
        int start = frame.readerIndex() + PgRead.BODY;
        byte kind = frame.getByte(start);
        String name = PgRead.cstring(frame, start + 1, end(frame));
        log.sentClose(false);
        if (kind != 'S' || name.isEmpty()) {
            server.write(frame.retain());
            return;
        }
        // The statement stays on the server for other clients; this client just forgets its name.
        byClientName.remove(name);
        writeClose(server, 'S', NO_SUCH_STATEMENT);
    }

    /** Prepares {@code st} on {@code server} first if it lacks it; the ParseComplete is swallowed. */
    private void ensurePrepared(Statement st, ServerConnection server, OutstandingRequests log) {
        if (server.prepared().has(st.serverName())) {
            return;
        }
        log.sentParse(true, new ParseUndo(st.serverName(), null, st));
        writeParse(server, st);
        serverParsed(st);
        remember(st, server, log);
    }

    private void remember(Statement st, ServerConnection server, OutstandingRequests log) {
        String evicted = server.prepared().add(st.serverName(), maxPerServer);
        if (evicted != null) {
            registry.evictions.increment();
            log.sentClose(true);
            writeClose(server, 'S', evicted);
        }
    }

    /** PostgreSQL rejected or skipped a Parse: it created nothing, on the server or for the client. */
    void undo(Object payload, ServerConnection server) {
        ParseUndo u = (ParseUndo) payload;
        if (server != null) {
            server.prepared().remove(u.serverName());
        }
        if (u.clientName() != null && byClientName.get(u.clientName()) == u.statement()) {
            byClientName.remove(u.clientName());
        }
    }

    /** The client ran DEALLOCATE ALL or DISCARD ALL. */
    void clear() {
        byClientName.clear();
    }

    private static void writeParse(ServerConnection server, Statement st) {
        byte[] name = st.serverNameBytes();
        ByteBuf out = server.channel().alloc().buffer(6 + name.length + st.parseBody().length);
        out.writeByte(FrontendType.PARSE);
        out.writeInt(4 + name.length + 1 + st.parseBody().length);
        out.writeBytes(name).writeByte(0);
        out.writeBytes(st.parseBody());
        server.write(out);
    }

    private static void writeClose(ServerConnection server, char kind, String name) {
        ByteBuf out = server.channel().alloc().buffer(8 + name.length());
        int mark = PgWrite.begin(out, FrontendType.CLOSE);
        out.writeByte(kind);
        PgWrite.cstring(out, name);
        PgWrite.end(out, mark);
        server.write(out);
    }
}
