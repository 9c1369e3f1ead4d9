package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
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

    /** snakeyaml's Tag constructor threw IllegalArgumentException on the tag `!%1` at the end of the text (CI's fuzzing run, session 11). */
    @Test
    void aTagSnakeYamlCannotMakeIsAConfigErrorNamingTheLine() {
        assertThatThrownBy(() -> ConfigLoader.parse("listen_port: 6432\nworkers: !%1", "t.yaml", null, Path.of(".")))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("t.yaml:2: invalid YAML: tag: ");
        assertThatThrownBy(() -> ConfigLoader.parse("!%1", "t.yaml", null, Path.of(".")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("t.yaml:1: invalid YAML: tag: ");
    }

    /** Path.of's InvalidPathException escaped the importer on a NUL in an %include (found by CI's fuzzing run). */
    @Test
    void aNulInAnIncludeIsAConfigErrorNamingTheLine() throws Exception {
        Path dir = Files.createTempDirectory("turnout-fuzz-finding");
        Path ini = dir.resolve("pgbouncer.ini");
        Files.writeString(ini, "[databases]\n%include a\u0000b.ini\n");
        try {
            assertThatThrownBy(() -> PgBouncerIniImporter.importFile(ini, null)).isInstanceOf(ConfigException.class)
                    .hasMessage(ini + ":2: %include: not a valid file name: Nul character not allowed");
        } finally {
            Files.delete(ini);
            Files.delete(dir);
        }
    }

    /** The same through a YAML escape: a file key whose value holds a NUL names the key and line. */
    @Test
    void aNulInAFileKeyIsAConfigErrorNamingTheKey() {
        assertThatThrownBy(() -> ConfigLoader.parse("auth_type: md5\nauth_file: \"users\\0.txt\"\n", "t.yaml", null,
                Path.of("."))).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("t.yaml:2: auth_file: not a valid file name:");
    }
}
