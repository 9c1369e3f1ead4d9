package io.turnout.proxy.admin;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.turnout.protocol.FrontendType;
import io.turnout.protocol.PgFrameScanner;
import io.turnout.protocol.PgProtocolException;
import io.turnout.protocol.PgRead;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.SqlState;
import io.turnout.proxy.client.ConsoleSession;
import io.turnout.proxy.log.LogText;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin console side of one client connection (database {@code pgbouncer} or {@code turnout}):
 * simple queries only, one command each, answered in order. Commands that wait (PAUSE, WAIT_CLOSE) or
 * read the event loops' state complete asynchronously; queries pipelined meanwhile wait their turn.
 */
public final class AdminConsole implements ConsoleSession {
    private static final Logger log = LoggerFactory.getLogger(AdminConsole.class);
    /** Console commands are short; a larger message is a confused client, not a command. */
    private static final int MAX_MESSAGE = 1 << 20;
    private static final Object SYNC = new Object();

    private final Pooler turnout;
    private final Channel channel;
    private final AdminCommands commands;
    private final BiConsumer<String, String> fatal;
    /** Queries (String) and Syncs waiting while a command runs. */
    private final ArrayDeque<Object> queued = new ArrayDeque<>();
    private boolean busy;
    /** An extended-protocol message was refused: skip to Sync, as PostgreSQL does after an error. */
    private boolean skipToSync;

    public AdminConsole(Pooler turnout, Channel channel, String user, boolean fullAccess,
                        BiConsumer<String, String> fatal) {
        this.turnout = turnout;
        this.channel = channel;
        this.fatal = fatal;
        this.commands = new AdminCommands(turnout, user, fullAccess, channel.eventLoop());
    }

    @Override
    public void welcome(int cancelKey, int cancelSecret) {
        ByteBuf out = channel.alloc().buffer(256);
        Map<String, String> backend = turnout.pools().all().stream().map(p -> p.welcome()).filter(w -> w != null)
                .findFirst().orElse(Map.of());
        PgWrite.parameterStatus(out, "server_version", backend.getOrDefault("server_version", "15.0") + " (Turnout)");
        PgWrite.parameterStatus(out, "server_encoding", "UTF8");
        PgWrite.parameterStatus(out, "client_encoding", "UTF8");
        PgWrite.parameterStatus(out, "DateStyle", "ISO, MDY");
        PgWrite.parameterStatus(out, "TimeZone", "UTC");
        PgWrite.parameterStatus(out, "integer_datetimes", "on");
        PgWrite.parameterStatus(out, "standard_conforming_strings", "on");
        PgWrite.parameterStatus(out, "is_superuser", "off");
        PgWrite.backendKeyData(out, cancelKey, cancelSecret);
        PgWrite.readyForQuery(out, (byte) 'I');
        channel.writeAndFlush(out, channel.voidPromise());
    }

    @Override
    public int frameStart(byte type, int length) {
        if (length > MAX_MESSAGE) {
            throw new PgProtocolException("admin console message of " + length + " bytes is too large");
        }
        return PgFrameScanner.WHOLE;
    }

    @Override
    public void onFrame(byte type, ByteBuf frame) {
        try {
            switch (type) {
                case FrontendType.QUERY -> {
                    int start = frame.readerIndex() + PgRead.BODY;
                    int end = frame.readerIndex() + 1 + frame.getInt(frame.readerIndex() + 1);
                    queued.add(PgRead.cstring(frame, start, end));
                }
                case FrontendType.SYNC -> queued.add(SYNC);
                case FrontendType.TERMINATE -> {
                    channel.close();
                    return;
                }
                case FrontendType.PARSE, FrontendType.BIND, FrontendType.DESCRIBE, FrontendType.EXECUTE,
                     FrontendType.CLOSE, FrontendType.FLUSH, FrontendType.FUNCTION_CALL -> queued.add(type);
                case FrontendType.COPY_DATA, FrontendType.COPY_DONE, FrontendType.COPY_FAIL -> {
                    return; // no COPY is ever started here
                }
                default -> {
                    fatal.accept(SqlState.PROTOCOL_VIOLATION, "invalid frontend message type " + (type & 0xff));
                    return;
                }
            }
        } finally {
            frame.release();
        }
        next();
    }

    private void next() {
        while (!busy && !queued.isEmpty() && channel.isActive()) {
            Object item = queued.poll();
            if (item == SYNC) {
                if (skipToSync) {
                    skipToSync = false;
                    ready(null);
                }
            } else if (item instanceof Byte type) {
                if (!skipToSync) {
                    skipToSync = type != FrontendType.FUNCTION_CALL;
                    ready(Response.error(SqlState.FEATURE_NOT_SUPPORTED,
                            "the admin console supports only the simple query protocol"), type == FrontendType.FUNCTION_CALL);
                }
            } else if (!skipToSync) {
                run((String) item);
            }
        }
    }

    private void run(String sql) {
        busy = true;
        CompletableFuture<Response> reply;
        try {
            reply = commands.execute(sql);
        } catch (RuntimeException e) {
            log.warn("admin_command_failed command=\"{}\" error=\"{}\"", LogText.of(sql), LogText.of(e));
            reply = CompletableFuture.completedFuture(Response.error(SqlState.INTERNAL_ERROR, e.toString()));
        }
        reply.whenCompleteAsync((r, error) -> {
            busy = false;
            if (error != null) {
                log.warn("admin_command_failed command=\"{}\" error=\"{}\"", LogText.of(sql), LogText.of(error));
                r = Response.error(SqlState.INTERNAL_ERROR, String.valueOf(error.getMessage()));
            }
            ready(r);
            next();
        }, channel.eventLoop());
    }

    private void ready(Response r) {
        ready(r, true);
    }

    private void ready(Response r, boolean withReady) {
        ByteBuf out = channel.alloc().buffer(r != null && r.table() != null ? 4096 : 256);
        if (r != null) {
            r.writeTo(out);
        }
        if (withReady) {
            PgWrite.readyForQuery(out, (byte) 'I');
        }
        channel.writeAndFlush(out, channel.voidPromise());
    }
}
