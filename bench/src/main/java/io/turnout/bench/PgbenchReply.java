package io.turnout.bench;

import io.netty.buffer.ByteBuf;
import io.turnout.protocol.BackendType;
import io.turnout.protocol.PgWrite;

/** What PostgreSQL answers to pgbench -S: RowDescription(abalance), DataRows, CommandComplete, ReadyForQuery. */
final class PgbenchReply {
    private PgbenchReply() {
    }

    static void write(ByteBuf out, int rows) {
        int mark = PgWrite.begin(out, BackendType.ROW_DESCRIPTION);
        out.writeShort(1);
        PgWrite.cstring(out, "abalance");
        out.writeInt(16400).writeShort(3).writeInt(23).writeShort(4).writeInt(-1).writeShort(0);
        PgWrite.end(out, mark);
        for (int i = 0; i < rows; i++) {
            out.writeByte(BackendType.DATA_ROW).writeInt(4 + 2 + 4 + 4).writeShort(1).writeInt(4).writeInt(1234);
        }
        PgWrite.commandComplete(out, "SELECT " + rows);
        PgWrite.readyForQuery(out, (byte) 'I');
    }
}
