package io.turnout.proxy.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The configuration files of a {@link PgServer}'s data directory: what the fixture adds to postgresql.conf after
 * initdb, its pg_hba.conf (one role per auth method over TCP, see {@link PgServer.Role}), the port file rewritten
 * at every start, and the edits for a copied data directory and for TLS. Files the server must read are given to
 * its OS user.
 */
final class PgConfFiles {
    private static final String PORT_FILE = "turnout_port.conf";

    private PgConfFiles() {}

    /** After initdb: the test settings in postgresql.conf (the port comes from {@link #writePort}) and pg_hba.conf. */
    static void writeInitial(Path dataDir, Path socketDir) {
        String conf = String.join("\n",
                "",
                "# ---- Turnout integration tests ----",
                "listen_addresses = '" + PgServer.HOST + "'",
                "unix_socket_directories = '" + socketDir + "'",
                "include '" + PORT_FILE + "'",
                "max_connections = 300",
                "shared_buffers = 128MB",
                "huge_pages = off",
                "fsync = off",
                "synchronous_commit = off",
                "full_page_writes = off",
                "jit = off",
                "password_encryption = 'scram-sha-256'",
                "wal_level = replica",
                "max_wal_senders = 10",
                "max_replication_slots = 10",
                "hot_standby = on",
                "logging_collector = off",
                "log_destination = 'stderr'",
                "log_min_messages = warning",
                "log_line_prefix = '%m [%p] %q%u@%d '",
                "lc_messages = 'C'",
                "");
        String hba = String.join("\n",
                "# Turnout integration tests: one role per auth method over TCP",
                "# TYPE  DATABASE     USER       ADDRESS        METHOD",
                "local   all          all                       trust",
                "local   replication  all                       trust",
                "host    all          app_trust  127.0.0.1/32   trust",
                "host    all          app_plain  127.0.0.1/32   password",
                "host    all          app_md5    127.0.0.1/32   md5",
                "host    all          app_scram  127.0.0.1/32   scram-sha-256",
                "host    all          all        127.0.0.1/32   scram-sha-256",
                "host    replication  postgres   127.0.0.1/32   scram-sha-256",
                "");
        try {
            Files.writeString(dataDir.resolve("postgresql.conf"), conf, StandardCharsets.UTF_8,
                    StandardOpenOption.APPEND);
            Files.writeString(dataDir.resolve("pg_hba.conf"), hba, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code port = N} in the file postgresql.conf includes, so a start on another port edits nothing else. */
    static void writePort(Path dataDir, int port) {
        Path f = dataDir.resolve(PORT_FILE);
        try {
            Files.writeString(f, "port = " + port + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        OwnedDirs.chownToPostgres(f);
    }

    /**
     * Listens on {@code address} alone (postgresql.conf's last word wins) and lets {@code client} log in over TCP
     * as 127.0.0.1 may: for a server moved into a {@link NetNamespace}. Takes effect at the next start.
     */
    static void listenOn(Path dataDir, String address, String client) {
        try {
            Files.writeString(dataDir.resolve("postgresql.conf"), "\nlisten_addresses = '" + address + "'\n",
                    StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        editLines(dataDir.resolve("pg_hba.conf"),
                l -> l.contains("127.0.0.1/32") ? l + "\n" + l.replace("127.0.0.1/32", client + "/32") : l);
    }

    /**
     * A copied data directory still names its source's socket directory, which the source owns and may delete:
     * point it at ours. The port needs no such care, as the port file is rewritten at start.
     */
    static void adoptCopied(Path dataDir, Path socketDir) {
        Path conf = dataDir.resolve("postgresql.conf");
        boolean[] found = {false};
        editLines(conf, line -> {
            if (!line.startsWith("unix_socket_directories")) {
                return line;
            }
            found[0] = true;
            return "unix_socket_directories = '" + socketDir + "'";
        });
        if (!found[0]) {
            throw new IllegalStateException(conf + " has no unix_socket_directories: not a copy of a PgServer");
        }
    }

    /**
     * ssl = on with {@code cert}/{@code key} copied into the data directory (key 0600) and every TCP line of
     * pg_hba.conf made {@code hostssl}. Takes effect at the next reload.
     */
    static void requireTls(Path dataDir, Path cert, Path key) {
        try {
            Path c = dataDir.resolve("server.crt");
            Path k = dataDir.resolve("server.key");
            Files.copy(cert, c, StandardCopyOption.REPLACE_EXISTING);
            Files.copy(key, k, StandardCopyOption.REPLACE_EXISTING);
            Files.setPosixFilePermissions(k, PosixFilePermissions.fromString("rw-------"));
            OwnedDirs.chownToPostgres(c);
            OwnedDirs.chownToPostgres(k);
            Files.writeString(dataDir.resolve("postgresql.conf"),
                    "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
                    StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        editLines(dataDir.resolve("pg_hba.conf"), l -> l.startsWith("host ") ? "hostssl" + l.substring(4) : l);
    }

    /** Rewrites a text file line by line. */
    static void editLines(Path file, UnaryOperator<String> edit) {
        try {
            List<String> lines = new ArrayList<>();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                lines.add(edit.apply(line));
            }
            Files.write(file, lines, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
