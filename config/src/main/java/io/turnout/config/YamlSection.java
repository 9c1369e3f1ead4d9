package io.turnout.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/** Typed, line-aware reads from one YAML mapping; every error says file:line and the key's path. */
final class YamlSection {
    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)?");
    /** PostgreSQL's memory units as Patroni's parse_int reads them (1kB = 1024 B); the case is forgiven. */
    private static final Pattern BYTES = Pattern.compile("(\\d{1,19})\\s*(B|kB|MB|GB|TB)?", Pattern.CASE_INSENSITIVE);

    private final String file;
    private final String path;
    private final Node node;
    private final Map<String, NodeTuple> entries = new LinkedHashMap<>();

    YamlSection(String file, String path, Node node) throws ConfigException {
        this.file = file;
        this.path = path;
        this.node = node;
        if (!(node instanceof MappingNode mapping)) {
            throw error(node, path.isEmpty() ? "the file" : path, "expected a mapping of keys to values");
        }
        for (NodeTuple t : mapping.getValue()) {
            if (!(t.getKeyNode() instanceof ScalarNode key)) {
                throw error(t.getKeyNode(), path, "keys must be plain names");
            }
            if (entries.put(key.getValue(), t) != null) {
                throw error(key, qualified(key.getValue()), "duplicate key");
            }
        }
    }

    Set<String> keys() {
        return entries.keySet();
    }

    String qualified(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    void rejectUnknown(Collection<String> known) throws ConfigException {
        for (NodeTuple t : entries.values()) {
            String key = ((ScalarNode) t.getKeyNode()).getValue();
            if (!known.contains(key)) {
                throw error(t.getKeyNode(), qualified(key), "unknown key (known keys: " + String.join(", ", known) + ")");
            }
        }
    }

    boolean has(String key) {
        NodeTuple t = entries.get(key);
        return t != null && !isNull(t.getValueNode());
    }

    YamlSection section(String key) throws ConfigException {
        NodeTuple t = entries.get(key);
        return t == null ? null : new YamlSection(file, qualified(key), t.getValueNode());
    }

    String string(String key, String fallback) throws ConfigException {
        NodeTuple t = entries.get(key);
        if (t == null || isNull(t.getValueNode())) {
            return fallback;
        }
        if (!(t.getValueNode() instanceof ScalarNode s)) {
            throw error(t.getValueNode(), qualified(key), "expected a single value");
        }
        return s.getValue();
    }

    /**
     * The file {@code key} names, resolved against {@code baseDir}; null when the key is absent or blank.
     * A name the file system cannot hold (a NUL from a YAML escape) is a configuration error, not a crash.
     */
    java.nio.file.Path path(String key, java.nio.file.Path baseDir) throws ConfigException {
        String raw = string(key, null);
        if (raw == null || raw.isBlank()) {
            return null;
        }
        try {
            return baseDir.resolve(raw.trim());
        } catch (java.nio.file.InvalidPathException e) {
            throw error(key, "not a valid file name: " + e.getReason());
        }
    }

    int integer(String key, int fallback, int min, int max) throws ConfigException {
        String raw = string(key, null);
        if (raw == null) {
            return fallback;
        }
        try {
            long v = Long.parseLong(raw.trim());
            if (v < min || v > max) {
                throw error(valueNode(key), qualified(key), "must be between " + min + " and " + max + ", got " + raw);
            }
            return (int) v;
        } catch (NumberFormatException e) {
            throw error(valueNode(key), qualified(key), "expected a whole number, got '" + raw + "'");
        }
    }

    boolean bool(String key, boolean fallback) throws ConfigException {
        String raw = string(key, null);
        if (raw == null) {
            return fallback;
        }
        return switch (raw.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "yes", "on", "1" -> true;
            case "false", "no", "off", "0" -> false;
            default -> throw error(valueNode(key), qualified(key), "expected true or false, got '" + raw + "'");
        };
    }

    /** Seconds as PgBouncer writes them (a plain number, fractions allowed) or with a unit: 500ms, 30s, 5m, 1h. */
    Duration duration(String key, Duration fallback) throws ConfigException {
        String raw = string(key, null);
        if (raw == null) {
            return fallback;
        }
        Matcher m = DURATION.matcher(raw.trim());
        if (!m.matches()) {
            throw error(valueNode(key), qualified(key), "expected a duration such as 30, 2.5, 500ms, 30s, 5m or 1h, got '" + raw + "'");
        }
        double amount = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        double millis = switch (unit) {
            case "ms" -> amount;
            case "m" -> amount * 60_000;
            case "h" -> amount * 3_600_000;
            case "d" -> amount * 86_400_000;
            default -> amount * 1000;
        };
        return Duration.ofMillis(Math.round(millis));
    }

    /** A size in bytes: a plain number, or with a unit as PostgreSQL writes it: 512kB, 16MB, 1GB, 1TB. */
    long bytes(String key, long fallback) throws ConfigException {
        String raw = string(key, null);
        if (raw == null) {
            return fallback;
        }
        Matcher m = BYTES.matcher(raw.trim());
        if (!m.matches()) {
            throw error(valueNode(key), qualified(key), "expected a size such as 1048576, 512kB, 16MB or 1GB, got '"
                    + raw + "'");
        }
        int shift = switch (m.group(2) == null ? "b" : m.group(2).toLowerCase(java.util.Locale.ROOT)) {
            case "kb" -> 10;
            case "mb" -> 20;
            case "gb" -> 30;
            case "tb" -> 40;
            default -> 0;
        };
        try {
            long amount = Long.parseLong(m.group(1));
            if (amount > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return amount << shift;
        } catch (NumberFormatException e) {
            throw error(valueNode(key), qualified(key), "size too large: '" + raw + "'");
        }
    }

    /** A YAML sequence of mappings (e.g. {@code peers: [{id: 2, host: h}]}); empty when the key is absent. */
    List<YamlSection> sections(String key) throws ConfigException {
        NodeTuple t = entries.get(key);
        List<YamlSection> out = new ArrayList<>();
        if (t == null || isNull(t.getValueNode())) {
            return out;
        }
        if (!(t.getValueNode() instanceof SequenceNode seq)) {
            throw error(t.getValueNode(), qualified(key), "expected a list of mappings");
        }
        int i = 0;
        for (Node item : seq.getValue()) {
            out.add(new YamlSection(file, qualified(key) + "[" + i++ + "]", item));
        }
        return out;
    }

    /** A list given as a YAML sequence or as PgBouncer's comma-separated string. */
    List<String> list(String key) throws ConfigException {
        NodeTuple t = entries.get(key);
        List<String> out = new ArrayList<>();
        if (t == null || isNull(t.getValueNode())) {
            return out;
        }
        Node v = t.getValueNode();
        if (v instanceof SequenceNode seq) {
            for (Node item : seq.getValue()) {
                if (!(item instanceof ScalarNode s)) {
                    throw error(item, qualified(key), "expected a list of names");
                }
                out.add(s.getValue().trim());
            }
        } else if (v instanceof ScalarNode s) {
            for (String part : s.getValue().split(",")) {
                if (!part.isBlank()) {
                    out.add(part.trim());
                }
            }
        } else {
            throw error(v, qualified(key), "expected a list of names");
        }
        return out;
    }

    ConfigException error(String key, String message) {
        NodeTuple t = entries.get(key);
        return error(t != null ? t.getValueNode() : node, qualified(key), message);
    }

    private Node valueNode(String key) {
        return entries.get(key).getValueNode();
    }

    private ConfigException error(Node at, String key, String message) {
        return new ConfigException(file + ":" + (at.getStartMark().getLine() + 1) + ": " + key + ": " + message);
    }

    private static boolean isNull(Node n) {
        return n instanceof ScalarNode s && "tag:yaml.org,2002:null".equals(s.getTag().getValue());
    }
}
