package io.turnout.proxy;

import io.turnout.config.ConfigException;
import io.turnout.config.ConfigLoader;
import io.turnout.config.TurnoutConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * RELOAD, SIGHUP and the console's SET: each builds a whole new TurnoutConfig and hands it to
 * {@code apply}, or throws and leaves the running one alone. SET re-parses the text the running config
 * came from with one key replaced, so a value is validated exactly like the same line in the file.
 */
final class ConfigUpdates {
    private static final Logger log = LoggerFactory.getLogger(ConfigUpdates.class);

    private final Supplier<TurnoutConfig> running;
    private final Apply apply;

    /** Takes a parsed configuration into use, or throws (a TLS file that would not load) and changes nothing. */
    interface Apply {
        void accept(TurnoutConfig next) throws ConfigException;
    }
    /** The YAML the running configuration came from, and the SET overrides applied on top of it. */
    private String text;
    private final Map<String, String> overrides = new LinkedHashMap<>();

    ConfigUpdates(Supplier<TurnoutConfig> running, Apply apply) {
        this.running = running;
        this.apply = apply;
        this.text = readText(running.get());
    }

    /** Re-reads the file; SET overrides are dropped, as PgBouncer's are. */
    synchronized void reload() throws ConfigException {
        TurnoutConfig current = running.get();
        if (current.source() == null) {
            throw new ConfigException("no configuration file to reload");
        }
        String fresh;
        try {
            fresh = Files.readString(current.source());
        } catch (IOException e) {
            throw new ConfigException(current.source() + ": cannot read config: " + e.getMessage(), e);
        }
        TurnoutConfig next = ConfigLoader.parse(fresh, current.source().toString(), current.source(), baseDir(current));
        apply.accept(next);
        text = fresh;
        overrides.clear();
        log.info("config_reloaded file={} databases={}", current.source(), next.databases().keySet());
    }

    synchronized void set(String key, String value) throws ConfigException {
        TurnoutConfig current = running.get();
        Map<String, String> next = new LinkedHashMap<>(overrides);
        next.put(key, value);
        String name = current.source() != null ? current.source().toString() : "config";
        apply.accept(ConfigLoader.parse(text, name, current.source(), baseDir(current), next));
        overrides.put(key, value);
    }

    private static Path baseDir(TurnoutConfig c) {
        return c.source() != null ? c.source().toAbsolutePath().getParent() : Path.of(".");
    }

    private static String readText(TurnoutConfig c) {
        try {
            return c.source() != null ? Files.readString(c.source()) : null;
        } catch (IOException e) {
            return null;
        }
    }
}
