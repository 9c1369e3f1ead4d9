package io.turnout.proxy.log;

/**
 * Makes text that came from outside (a client's startup parameters, user and database names, queries,
 * error texts that echo them) safe for a one-line {@code event key="value"} log: quotes, backslashes and
 * control characters are escaped, so no value can end its field or start a forged line, and the length is
 * bounded, so no client fills the log. Use it for every value a client or a server chose.
 */
public final class LogText {
    /** Characters kept of one value; the rest is cut and marked. */
    static final int MAX_CHARS = 256;

    private LogText() {
    }

    /** The escaped, bounded form of {@code s} ("null" for null), for use inside or outside quotes. */
    public static String of(Object value) {
        String s = String.valueOf(value);
        int n = Math.min(s.length(), MAX_CHARS);
        StringBuilder b = null;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F && !Character.isSurrogate(c)
                    && (c < 0x80 || !Character.isISOControl(c)) && c != '\u2028' && c != '\u2029') {
                if (b != null) {
                    b.append(c);
                }
                continue;
            }
            if (b == null) {
                b = new StringBuilder(n + 16).append(s, 0, i);
            }
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                        b.append(c).append(s.charAt(++i)); // a well-formed pair is a printable character
                    } else {
                        b.append(String.format("\\u%04x", (int) c));
                    }
                }
            }
        }
        String out = b != null ? b.toString() : s.substring(0, n);
        return s.length() > MAX_CHARS ? out + "...(" + s.length() + " chars)" : out;
    }
}
