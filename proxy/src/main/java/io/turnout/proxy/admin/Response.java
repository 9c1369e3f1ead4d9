package io.turnout.proxy.admin;

import io.netty.buffer.ByteBuf;
import io.turnout.protocol.BackendType;
import io.turnout.protocol.PgWrite;

/** What one console command answers, written before its ReadyForQuery. */
record Response(AdminResult table, String tag, String errorState, String errorMessage, String notice,
                String detail) {

    static Response table(AdminResult table) {
        return new Response(table, null, null, null, null, null);
    }

    static Response done(String tag) {
        return new Response(null, tag, null, null, null, null);
    }

    static Response error(String sqlState, String message) {
        return new Response(null, null, sqlState, message, null, null);
    }

    /** A NoticeResponse followed by CommandComplete {@code tag} (SHOW HELP, an ignored SET). */
    static Response notice(String message, String detail, String tag) {
        return new Response(null, tag, null, null, message, detail);
    }

    boolean isError() {
        return errorState != null;
    }

    void writeTo(ByteBuf out) {
        if (notice != null) {
            PgWrite.errorResponse(out, BackendType.NOTICE_RESPONSE, "NOTICE", "00000", notice, detail);
        }
        if (errorState != null) {
            PgWrite.errorResponse(out, "ERROR", errorState, errorMessage);
        } else if (table != null) {
            table.writeTo(out);
        } else if (tag.isEmpty()) {
            PgWrite.emptyQueryResponse(out);
        } else {
            PgWrite.commandComplete(out, tag);
        }
    }
}
