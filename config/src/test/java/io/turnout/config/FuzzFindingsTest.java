package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** What the config fuzz targets found, kept as plain tests (the inputs also stay in their seed corpus). */
class FuzzFindingsTest {
    /** snakeyaml's ReaderException escaped: turnout died with a stack trace instead of naming the line. */
    @Test
    void aNulByteInTheYamlIsAConfigErrorNamingTheLine() {
        assertThatThrownBy(() -> ConfigLoader.parse("listen_port: 6432\n\u0000\n", "t.yaml", null, Path.of(".")))
                .isInstanceOf(ConfigException.class)
                .hasMessage("t.yaml:2: invalid YAML: character U+0000 is not allowed in a YAML file");
    }
}
