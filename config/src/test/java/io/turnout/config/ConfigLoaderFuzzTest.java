package io.turnout.config;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** The YAML loader on any text: a TurnoutConfig or a ConfigException naming the key, never anything else. */
class ConfigLoaderFuzzTest {
    private static final Path BASE = Path.of("target", "fuzz-config").toAbsolutePath();

    @FuzzTest(maxDuration = "3s")
    void parse(byte[] yaml) {
        try {
            ConfigLoader.parse(new String(yaml, StandardCharsets.UTF_8), "fuzz.yaml", null, BASE);
        } catch (ConfigException expected) {
            // turnout exits 2 with this message
        }
    }
}
