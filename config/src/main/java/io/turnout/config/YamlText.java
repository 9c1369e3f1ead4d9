package io.turnout.config;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/** Writes YAML scalars and flow lists that {@link ConfigLoader} reads back as exactly the same text. */
final class YamlText {
    /**
     * Safe unquoted in both block and flow context: no indicator first, no ':' (SnakeYAML's flow context
     * trips on IPv6 addresses), no '#', no flow punctuation.
     */
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_./][A-Za-z0-9_./@ $=*-]*");
    /** Plain scalars YAML would read as null; ConfigLoader treats a null value as absent. */
    private static final Set<String> NULLS = Set.of("~", "null");

    private YamlText() {
    }

    static String scalar(String s) {
        if (PLAIN.matcher(s).matches() && !s.endsWith(" ") && !NULLS.contains(s.toLowerCase(Locale.ROOT))) {
            return s;
        }
        return quoted(s);
    }

    static String list(List<String> items) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < items.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append(scalar(items.get(i)));
        }
        return sb.append(']').toString();
    }

    /** YAML's double-quoted style, whose escapes are a superset of JSON's. */
    static String quoted(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\t' -> sb.append("\\t");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        sb.append(String.format("\\x%02x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
