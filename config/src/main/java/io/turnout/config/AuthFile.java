package io.turnout.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PgBouncer's userlist format: one {@code "user" "secret"} per line, double quotes doubled inside a
 * value; lines starting with ';' or '#' and blank lines are comments. The secret is a plain password, an
 * {@code md5...} hash or a {@code SCRAM-SHA-256$...} verifier.
 */
public final class AuthFile {
    private AuthFile() {
    }

    /**
     * "mode 0644" when others (not only the owner and group) may read {@code file}, else null (and null
     * where POSIX modes do not exist). Turnout warns then rather than refusing, as PgBouncer accepts it too.
     */
    public static String worldReadable(Path file) {
        try {
            java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            if (!perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ)) {
                return null;
            }
            return "mode " + java.nio.file.attribute.PosixFilePermissions.toString(perms);
        } catch (UnsupportedOperationException | IOException e) {
            return null;
        }
    }

    public static Map<String, String> read(Path file) throws ConfigException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read auth_file: " + e.getMessage(), e);
        }
        Map<String, String> users = new LinkedHashMap<>();
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n).strip();
            if (line.isEmpty() || line.startsWith(";") || line.startsWith("#")) {
                continue;
            }
            int[] pos = {0};
            String user = quoted(line, pos, file, n);
            String secret = quoted(line, pos, file, n);
            users.put(user, secret);
        }
        return Map.copyOf(users);
    }

    private static String quoted(String line, int[] pos, Path file, int n) throws ConfigException {
        int i = pos[0];
        while (i < line.length() && Character.isWhitespace(line.charAt(i))) {
            i++;
        }
        if (i >= line.length() || line.charAt(i) != '"') {
            throw new ConfigException(file + ":" + (n + 1) + ": expected \"user\" \"secret\"");
        }
        StringBuilder sb = new StringBuilder();
        for (i++; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '"') {
                if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    sb.append('"');
                    i++;
                } else {
                    pos[0] = i + 1;
                    return sb.toString();
                }
            } else {
                sb.append(c);
            }
        }
        throw new ConfigException(file + ":" + (n + 1) + ": unterminated quoted value");
    }
}
