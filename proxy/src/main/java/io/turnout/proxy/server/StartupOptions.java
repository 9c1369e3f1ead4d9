package io.turnout.proxy.server;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Parses the startup {@code options} value: {@code -c name=value} and {@code --name=value} items. */
final class StartupOptions {
    private StartupOptions() {
    }

    static void parseInto(String options, Map<String, String> out) {
        List<String> words = split(options);
        for (int i = 0; i < words.size(); i++) {
            String w = words.get(i);
            String item = null;
            if (w.equals("-c") && i + 1 < words.size()) {
                item = words.get(++i);
            } else if (w.startsWith("-c")) {
                item = w.substring(2);
            } else if (w.startsWith("--")) {
                item = w.substring(2);
            }
            if (item == null) {
                throw new IllegalArgumentException("unsupported startup option '" + w + "': only -c name=value is accepted");
            }
            int eq = item.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("invalid startup option '" + item + "': expected name=value");
            }
            out.put(item.substring(0, eq).replace('-', '_').toLowerCase(Locale.ROOT), item.substring(eq + 1));
        }
    }

    /** Splits on spaces; a backslash escapes the next character, as libpq documents for options. */
    private static List<String> split(String s) {
        List<String> words = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                cur.append(s.charAt(++i));
            } else if (Character.isWhitespace(c)) {
                if (cur.length() > 0) {
                    words.add(cur.toString());
                    cur.setLength(0);
                }
            } else {
                cur.append(c);
            }
        }
        if (cur.length() > 0) {
            words.add(cur.toString());
        }
        return words;
    }
}
