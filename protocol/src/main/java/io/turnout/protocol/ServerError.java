package io.turnout.protocol;

import io.netty.buffer.ByteBuf;

/** The fields of an ErrorResponse or NoticeResponse that Turnout logs or relays. */
public record ServerError(String severity, String sqlState, String message, String detail) {

    public static ServerError parse(ByteBuf frame) {
        int start = frame.readerIndex();
        int end = start + 1 + frame.getInt(start + 1);
        String severity = null;
        String localized = null;
        String code = null;
        String message = null;
        String detail = null;
        int i = start + PgRead.BODY;
        while (i < end) {
            byte field = frame.getByte(i++);
            if (field == 0) {
                break;
            }
            String value = PgRead.cstring(frame, i, end);
            i = PgRead.skipCstring(frame, i, end);
            switch (field) {
                case 'V' -> severity = value;
                case 'S' -> localized = value;
                case 'C' -> code = value;
                case 'M' -> message = value;
                case 'D' -> detail = value;
                default -> { }
            }
        }
        return new ServerError(severity != null ? severity : localized, code, message, detail);
    }

    @Override
    public String toString() {
        return severity + " " + sqlState + " " + message;
    }
}
