package io.turnout.config;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads pgbouncer.ini the way PgBouncer's own parser (libusual's cfparser) does, so the importer sees
 * exactly the settings PgBouncer sees: a comment is a line whose first non-blank character is ';' or '#'
 * (later in a line they are part of the value); {@code [section]} headers; {@code key = value} with the
 * value running to the end of the line, trailing blanks trimmed and no quote removal; keys of letters,
 * digits and {@code _.-*}, or a double-quoted name ({@code ""} for a quote) as PgBouncer allows for
 * database names; {@code %include file} up to ten levels deep.
 */
final class PgBouncerIni {
    /** libusual's MAX_INCLUDE. */
    static final int MAX_INCLUDE_DEPTH = 10;
    /** PgBouncer refuses a file with any other section, and one without [pgbouncer]. */
    static final List<String> SECTIONS = List.of("pgbouncer", "databases", "users", "peers");

    /** One {@code key = value} line; {@code file} is the path it was read from, as given or resolved. */
    record Entry(String section, String key, String value, String file, int line) {
    }

    private final List<Entry> entries = new ArrayList<>();
    private String section;
    private boolean sawMain;

    private PgBouncerIni() {
    }

    /** Every key/value line of {@code ini} and the files it includes, in reading order. */
    static List<Entry> read(Path ini) throws ConfigException {
        PgBouncerIni p = new PgBouncerIni();
        p.file(ini, 0, null);
        if (!p.sawMain) {
            throw new ConfigException(ini + ": no [pgbouncer] section (PgBouncer refuses such a file too)");
        }
        return List.copyOf(p.entries);
    }

    private void file(Path path, int depth, String includedFrom) throws ConfigException {
        String text;
        try {
            text = Files.readString(path, StandardCharsets.UTF_8);
        } catch (IOException e) {
            String why = e instanceof NoSuchFileException ? "no such file"
                    : e instanceof AccessDeniedException ? "permission denied" : e.toString();
            throw new ConfigException((includedFrom != null ? includedFrom + ": cannot read included file " : "cannot read ")
                    + path + ": " + why, e);
        }
        String name = path.toString();
        String[] lines = text.split("\n", -1);
        for (int n = 0; n < lines.length; n++) {
            line(path, name, n + 1, lines[n].strip(), depth);
        }
    }

    private void line(Path path, String name, int n, String line, int depth) throws ConfigException {
        if (line.isEmpty() || line.charAt(0) == ';' || line.charAt(0) == '#') {
            return;
        }
        String where = name + ":" + n;
        if (line.startsWith("%include") && line.length() > 8 && (line.charAt(8) == ' ' || line.charAt(8) == '\t')) {
            if (depth >= MAX_INCLUDE_DEPTH) {
                throw new ConfigException(where + ": %include nested deeper than " + MAX_INCLUDE_DEPTH + " levels");
            }
            file(include(path, line.substring(9).strip(), where), depth + 1, where);
            return;
        }
        if (line.charAt(0) == '[') {
            int end = line.indexOf(']');
            if (end < 0) {
                throw new ConfigException(where + ": syntax error: section header without ']'");
            }
            section = line.substring(1, end);
            if (!SECTIONS.contains(section)) {
                throw new ConfigException(where + ": unknown section [" + section + "] (PgBouncer knows "
                        + String.join(", ", SECTIONS) + ")");
            }
            sawMain |= section.equals("pgbouncer");
            // libusual goes on reading after ']' as if a new line started there
            line(path, name, n, line.substring(end + 1).strip(), depth);
            return;
        }
        int[] pos = {0};
        String key = key(line, pos, where);
        int i = pos[0];
        while (i < line.length() && (line.charAt(i) == ' ' || line.charAt(i) == '\t')) {
            i++;
        }
        if (i >= line.length() || line.charAt(i) != '=') {
            throw new ConfigException(where + ": syntax error: expected key = value, got '" + line + "'");
        }
        if (section == null) {
            throw new ConfigException(where + ": '" + key + "' comes before any [section]");
        }
        entries.add(new Entry(section, key, line.substring(i + 1).strip(), name, n));
    }

    private static String key(String line, int[] pos, String where) throws ConfigException {
        if (line.charAt(0) == '"') {
            StringBuilder sb = new StringBuilder();
            for (int i = 1; i < line.length(); i++) {
                char c = line.charAt(i);
                if (c != '"') {
                    sb.append(c);
                } else if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    sb.append('"');
                    i++;
                } else {
                    pos[0] = i + 1;
                    return sb.toString();
                }
            }
            throw new ConfigException(where + ": syntax error: unterminated quoted name");
        }
        int i = 0;
        while (i < line.length() && isKeyChar(line.charAt(i))) {
            i++;
        }
        if (i == 0) {
            throw new ConfigException(where + ": syntax error: expected key = value, got '" + line + "'");
        }
        pos[0] = i;
        return line.substring(0, i);
    }

    private static boolean isKeyChar(char c) {
        return c < 128 && (Character.isLetterOrDigit(c) || c == '_' || c == '.' || c == '-' || c == '*');
    }

    /**
     * PgBouncer opens a relative %include against its working directory, which the importer cannot know;
     * the including file's directory is where such files live in practice, then the importer's own.
     */
    private static Path include(Path from, String target, String where) throws ConfigException {
        Path t;
        try {
            t = Path.of(target);
        } catch (java.nio.file.InvalidPathException e) {
            throw new ConfigException(where + ": %include: not a valid file name: " + e.getReason());
        }
        if (t.isAbsolute()) {
            return t;
        }
        Path parent = from.getParent();
        Path beside = parent == null ? t : parent.resolve(t);
        return Files.exists(beside) || !Files.exists(t) ? beside : t;
    }
}
