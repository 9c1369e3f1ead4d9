package io.turnout.config;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * `turnout import-pgbouncer` on any pgbouncer.ini: a Result whose YAML loads (or fails with a
 * ConfigException, e.g. a file it references is missing), or a ConfigException. Written to a file each
 * time because the importer follows %include relative to it.
 */
class PgBouncerIniImporterFuzzTest {
    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("turnout-ini-fuzz");
            DIR.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "3s")
    void importIni(byte[] ini) throws IOException {
        Path file = DIR.resolve("pgbouncer.ini");
        Files.write(file, ini);
        PgBouncerIniImporter.Result r;
        try {
            r = PgBouncerIniImporter.importFile(file, null);
        } catch (ConfigException expected) {
            return;
        }
        try {
            ConfigLoader.parse(r.yaml(), "imported.yaml", null, DIR);
        } catch (ConfigException expected) {
            // an imported value Turnout checks further (files, hosts): named, not a crash
        }
    }
}
