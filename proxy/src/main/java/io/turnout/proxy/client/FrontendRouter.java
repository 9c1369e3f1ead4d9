package io.turnout.proxy.client;

import io.netty.buffer.ByteBuf;
import io.turnout.protocol.FrontendType;
import io.turnout.protocol.PgFrameScanner;
import io.turnout.protocol.PgProtocolException;
import io.turnout.protocol.SqlState;

/**
 * Routes what the client sends, frame by frame as the {@link PgFrameScanner} finds them: login messages to
 * {@link ClientLogin}, everything to the admin console once logged in there, and otherwise to the linked
 * server: most frames pass through untouched, Parse/Bind/Describe/Close of named statements are gathered
 * whole for rewriting ({@link NamedStatements}), and a statement that may be (UN)LISTEN goes to the
 * {@link ListenGuard}. While no server is linked, frames queue and the {@link ServerLink} asks for one. It
 * counts each request that earns a ReadyForQuery ({@link OutstandingRequests}) and flushes once per read.
 */
final class FrontendRouter implements PgFrameScanner.Listener {
    /** The largest message accepted before authentication, as in PostgreSQL. */
    private static final int MAX_LOGIN_MESSAGE = 65535;
    /** Bytes a waiting client may queue before we stop reading its socket. */
    private static final int MAX_PENDING_BYTES = 256 * 1024;

    private final ClientHandler client;
    private final ServerLink link;
    private final RequestClock clock;
    private final ClientDeadlines deadlines;
    private final OutstandingRequests outstanding;
    /** What arrived while no server is linked (the link writes it to the server it gets). */
    private final QueuedFrames pending;
    private final ReadPause readPause;
    private ClientLogin login;
    /** Set when this client logged in to the admin console instead of a database. */
    private ConsoleSession console;
    /** The client ended with Terminate (rather than vanishing): work it sent before may complete. */
    private boolean terminated;
    private boolean wroteToServer;
    /**
     * A request began while no server is linked: one is asked for once the whole read is queued, so that
     * a pipelined Bind/Execute/Sync reaches PostgreSQL in one write (one wakeup there, not two).
     */
    private boolean serverWanted;

    FrontendRouter(ClientHandler client, ServerLink link, RequestClock clock, OutstandingRequests outstanding,
                   ClientLogin login) {
        this.client = client;
        this.link = link;
        this.clock = clock;
        this.deadlines = client.deadlines();
        this.outstanding = outstanding;
        this.pending = link.pending();
        this.readPause = client.readPause();
        this.login = login;
    }

    @Override
    public int frameStart(byte type, int length, ByteBuf buf, int bodyIndex, int readable) {
        ListenGuard listen = link.listen();
        if (listen != null && (type == FrontendType.QUERY || type == FrontendType.PARSE)
                && ListenGuard.mayMatter(type, length, buf, bodyIndex, readable)) {
            clock.messageReceived(link.txStatus());
            outstanding.sent(type);
            return PgFrameScanner.WHOLE; // perhaps (UN)LISTEN: frame() reads it
        }
        if (link.statements() != null && link.state() != ClientState.LOGIN) {
            switch (type) {
                case FrontendType.PARSE, FrontendType.BIND, FrontendType.DESCRIBE, FrontendType.CLOSE -> {
                    if (clock.messageReceived(link.txStatus())) {
                        deadlines.changed();
                    }
                    outstanding.sent(type);
                    return NamedStatements.namesNoStatement(type, buf, bodyIndex, readable, outstanding)
                            ? PgFrameScanner.PASS : PgFrameScanner.WHOLE;
                }
                default -> { }
            }
        }
        return frameStart(type, length);
    }

    @Override
    public int frameStart(byte type, int length) {
        if (link.state() == ClientState.LOGIN) {
            if (length > MAX_LOGIN_MESSAGE) {
                // PostgreSQL's own cap (PG_MAX_AUTH_TOKEN_LENGTH): nobody unauthenticated makes us buffer more
                throw new PgProtocolException("invalid message length " + length + " during authentication");
            }
            return PgFrameScanner.WHOLE;
        }
        if (console != null) {
            return console.frameStart(type, length);
        }
        if (clock.messageReceived(link.txStatus())) {
            deadlines.changed();
        }
        switch (type) {
            // (with named statements on, the five-argument frameStart takes Parse, Bind, Describe and Close)
            case FrontendType.QUERY, FrontendType.SYNC, FrontendType.FUNCTION_CALL, FrontendType.EXECUTE,
                 FrontendType.PARSE, FrontendType.BIND, FrontendType.DESCRIBE, FrontendType.CLOSE,
                 FrontendType.COPY_DONE, FrontendType.COPY_FAIL -> {
                outstanding.sent(type);
                return PgFrameScanner.PASS;
            }
            case FrontendType.COPY_DATA, FrontendType.FLUSH -> {
                return PgFrameScanner.PASS;
            }
            case FrontendType.TERMINATE -> {
                return PgFrameScanner.WHOLE;
            }
            default -> throw new PgProtocolException(invalidType(type));
        }
    }

    @Override
    public void passThrough(ByteBuf run) {
        link.stats().received(run.readableBytes());
        ClientState state = link.state();
        if (state == ClientState.ACTIVE) {
            link.server().write(run);
            wroteToServer = true;
            return;
        }
        if (state == ClientState.CLOSED) {
            run.release();
            return;
        }
        queued(state, pending.addRun(run));
    }

    @Override
    public void frame(byte type, ByteBuf frame) {
        if (link.state() == ClientState.LOGIN) {
            login.onFrame(type, frame);
            return;
        }
        if (console != null) {
            console.onFrame(type, frame);
            return;
        }
        ListenGuard listen = link.listen();
        if (listen != null && (type == FrontendType.QUERY || type == FrontendType.PARSE)) {
            ByteBuf f = listen.onStatement(type, frame, client.channel().alloc());
            if (type == FrontendType.PARSE && link.statements() != null) {
                statementFrame(type, f);
            } else {
                passThrough(f);
            }
            return;
        }
        if (link.statements() != null && (type == FrontendType.PARSE || type == FrontendType.BIND
                || type == FrontendType.DESCRIBE || type == FrontendType.CLOSE)) {
            statementFrame(type, frame);
            return;
        }
        frame.release();
        if (type == FrontendType.TERMINATE) {
            terminated = true;
            client.channel().close();
        } else {
            client.fatal(SqlState.PROTOCOL_VIOLATION, invalidType(type));
        }
    }

    /** A whole Parse, Bind, Describe or Close: its statement name is translated for the server it reaches. */
    private void statementFrame(byte type, ByteBuf frame) {
        link.stats().received(frame.readableBytes());
        ClientState state = link.state();
        if (state == ClientState.ACTIVE) {
            link.statements().forward(type, frame, link.server(), outstanding);
            wroteToServer = true;
            return;
        }
        if (state == ClientState.CLOSED) {
            frame.release();
            return;
        }
        queued(state, pending.addStatement(type, frame));
    }

    private void queued(ClientState state, int bytes) {
        if (state == ClientState.IDLE) {
            serverWanted = true;
        }
        if (bytes > MAX_PENDING_BYTES) {
            readPause.pause(ReadPause.WAITING); // a client streaming while it waits: stop reading until linked
        }
    }

    /** The read is scanned: a request that began without a server now asks for one. */
    void readDone() {
        if (serverWanted) {
            serverWanted = false;
            if (link.state() == ClientState.IDLE) {
                link.requestServer();
            }
        }
    }

    /** The read batch is over: one flush to the server (a batch becomes one writev). */
    void flushToServer() {
        if (wroteToServer && link.server() != null) {
            wroteToServer = false;
            link.server().flush();
            if (link.txStatus() == 'I' && outstanding.expectedReady() == 0) {
                link.maybeRelease(); // the server may have been held only by a frame that is now complete
            }
        }
    }

    /** Login is over: frames go to the pool's servers, or to {@code console} when it is not null. */
    void loggedIn(ConsoleSession console) {
        this.login = null;
        this.console = console;
    }

    /** Still logging in, and not even a whole startup packet arrived (a connection with no user to name). */
    boolean silentLogin() {
        return login != null && !login.startupReceived();
    }

    boolean console() {
        return console != null;
    }

    boolean terminated() {
        return terminated;
    }

    /** The client went away. */
    void close() {
        if (login != null) {
            login.abandon();
        }
    }

    /** PostgreSQL's wording: the type as an unsigned number, never the raw byte (a NUL would cut the field). */
    static String invalidType(byte type) {
        return "invalid frontend message type " + (type & 0xff);
    }
}
