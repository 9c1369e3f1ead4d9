package io.turnout.proxy.admin;

import io.netty.channel.EventLoop;
import io.turnout.config.ConfigException;
import io.turnout.config.DatabaseConfig;
import io.turnout.protocol.SqlState;
import io.turnout.proxy.client.ClientHandler;
import io.turnout.proxy.pool.ConnectionInfo;
import io.turnout.proxy.pool.Database;
import io.turnout.proxy.pool.Pool;
import io.turnout.proxy.pool.PoolShard;
import io.turnout.proxy.server.ServerHandler;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The console's control commands, with PgBouncer's semantics: PAUSE returns once every server is back
 * (and then closes them), RECONNECT closes servers as they are released, WAIT_CLOSE waits for that,
 * KILL drops a database's clients and servers and leaves it paused, RELOAD keeps the old configuration
 * when the new file is invalid.
 */
final class AdminControl {
    /** How often a waiting command (PAUSE, WAIT_CLOSE) looks again. */
    private static final long POLL_MILLIS = 50;

    private final Pooler turnout;
    private final EventLoop loop;

    AdminControl(Pooler turnout, EventLoop loop) {
        this.turnout = turnout;
        this.loop = loop;
    }

    CompletableFuture<Response> run(String cmd, String arg, String sql) {
        Database db = null;
        boolean needsDb = cmd.equals("enable") || cmd.equals("disable");
        boolean takesDb = needsDb || switch (cmd) {
            case "pause", "resume", "reconnect", "wait_close", "kill" -> true;
            default -> false;
        };
        if (!arg.isEmpty() && takesDb) {
            DatabaseConfig config = turnout.config().databases().get(arg);
            if (config == null) {
                return done(Response.error(SqlState.INVALID_CATALOG_NAME, "no such database: " + arg));
            }
            db = turnout.pools().database(config);
        } else if (needsDb) {
            return done(Response.error(SqlState.SYNTAX_ERROR, "a database is required"));
        } else if (!arg.isEmpty() && !cmd.equals("kill_client") && !cmd.equals("shutdown")) {
            return done(Response.error(SqlState.SYNTAX_ERROR, "invalid command '" + sql.trim() + "', use SHOW HELP;"));
        }
        Database target = db;
        Predicate<Pool> pools = p -> target == null || p.db() == target;
        return switch (cmd) {
            case "pause" -> pause(target, pools);
            case "resume" -> resume(target);
            case "reconnect" -> {
                turnout.pools().all().stream().filter(pools).forEach(p -> p.bumpGeneration(false));
                yield done(Response.done("RECONNECT"));
            }
            case "wait_close" -> waitUntil(s -> s.servers().stream().noneMatch(
                    i -> pools.test(i.pool()) && i.generation() != i.pool().generation()), "WAIT_CLOSE");
            case "kill" -> kill(target);
            case "kill_client" -> killClient(arg);
            case "enable", "disable" -> {
                target.setDisabled(cmd.equals("disable"));
                yield done(Response.done(cmd.toUpperCase(java.util.Locale.ROOT)));
            }
            case "suspend" -> {
                if (turnout.pools().allPaused() || turnout.suspended()) {
                    yield done(Response.error(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE, "already suspended/paused"));
                }
                turnout.suspend(true);
                yield done(Response.done("SUSPEND"));
            }
            case "shutdown" -> shutdown(arg);
            case "reload" -> {
                try {
                    turnout.reload();
                    yield done(Response.done("RELOAD"));
                } catch (ConfigException e) {
                    yield done(Response.error(SqlState.CONFIG_FILE_ERROR,
                            "RELOAD failed, keeping the running configuration: " + e.getMessage()));
                }
            }
            default -> done(Response.error(SqlState.SYNTAX_ERROR, "invalid command '" + sql.trim() + "'"));
        };
    }

    Response set(String key, String value) {
        try {
            turnout.set(key, value);
            return Response.done("SET");
        } catch (ConfigException e) {
            return Response.error(SqlState.INVALID_PARAMETER_VALUE, "SET failed: " + e.getMessage());
        }
    }

    private CompletableFuture<Response> pause(Database db, Predicate<Pool> pools) {
        if (turnout.pools().allPaused() || turnout.suspended() || (db != null && db.paused())) {
            return done(Response.error(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE, "already suspended/paused"));
        }
        if (db == null) {
            turnout.pools().setAllPaused(true);
        } else {
            db.setPaused(true);
        }
        return waitUntil(s -> s.servers().stream().noneMatch(i -> pools.test(i.pool()) && busy(i)), "PAUSE")
                .thenApply(r -> {
                    // every server is back: close them, so the database can restart under paused clients
                    closeIdle(pools);
                    return r;
                });
    }

    private static boolean busy(ConnectionInfo server) {
        return !server.state().equals("idle");
    }

    private void closeIdle(Predicate<Pool> pools) {
        for (Pool p : turnout.pools().all()) {
            if (pools.test(p)) {
                for (PoolShard s : p.allShards()) {
                    s.loop().execute(s::closeIdle);
                }
            }
        }
    }

    private CompletableFuture<Response> resume(Database db) {
        if (db != null) {
            if (!db.paused()) {
                return done(Response.error(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "database " + db.name() + " is not paused"));
            }
            db.setPaused(false);
            turnout.pools().all().stream().filter(p -> p.db() == db).forEach(Pool::wakeWaiters);
            return done(Response.done("RESUME"));
        }
        if (turnout.suspended()) {
            turnout.suspend(false);
        } else if (turnout.pools().allPaused()) {
            turnout.pools().setAllPaused(false);
        } else {
            return done(Response.error(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE, "pooler is not paused/suspended"));
        }
        return done(Response.done("RESUME"));
    }

    private CompletableFuture<Response> kill(Database db) {
        if (db == null) {
            turnout.config().databases().values().forEach(c -> turnout.pools().database(c).setPaused(true));
        } else {
            db.setPaused(true);
        }
        Predicate<ConnectionInfo> which = i -> !i.admin() && i.pool() != null && (db == null || i.pool().db() == db);
        return turnout.snapshots().act(which, h -> {
            if (h instanceof ClientHandler c) {
                c.kill("database " + c.info().database() + " killed by an administrator (KILL)");
            } else if (h instanceof ServerHandler s) {
                s.server().close();
            }
        }).thenApply(n -> Response.done("KILL"));
    }

    private CompletableFuture<Response> killClient(String arg) {
        long id;
        try {
            id = Long.parseLong(arg.trim());
        } catch (NumberFormatException e) {
            return done(Response.error(SqlState.INVALID_PARAMETER_VALUE, "invalid client id supplied: " + arg));
        }
        return turnout.snapshots().act(i -> !i.server() && i.id() == id,
                        h -> ((ClientHandler) h).kill("connection closed by an administrator (KILL_CLIENT)"))
                .thenApply(n -> n == 0 ? Response.error(SqlState.INVALID_PARAMETER_VALUE, "client not found")
                        : Response.done("KILL_CLIENT"));
    }

    private CompletableFuture<Response> shutdown(String arg) {
        String mode = arg.toUpperCase(java.util.Locale.ROOT);
        if (!mode.isEmpty() && !mode.equals("WAIT_FOR_SERVERS") && !mode.equals("WAIT_FOR_CLIENTS")) {
            return done(Response.error(SqlState.SYNTAX_ERROR, "invalid command 'SHUTDOWN " + arg + "', use SHOW HELP;"));
        }
        turnout.shutdown(mode);
        return done(Response.done("SHUTDOWN"));
    }

    /** Completes with {@code tag} once a snapshot satisfies {@code condition}, looking every 50 ms. */
    private CompletableFuture<Response> waitUntil(Predicate<Snapshot> condition, String tag) {
        CompletableFuture<Response> result = new CompletableFuture<>();
        poll(condition, tag, result);
        return result;
    }

    private void poll(Predicate<Snapshot> condition, String tag, CompletableFuture<Response> result) {
        turnout.snapshots().collect().whenCompleteAsync((snap, error) -> {
            if (error != null) {
                result.completeExceptionally(error);
            } else if (condition.test(snap)) {
                result.complete(Response.done(tag));
            } else {
                loop.schedule(() -> poll(condition, tag, result), POLL_MILLIS, TimeUnit.MILLISECONDS);
            }
        }, loop);
    }

    private static CompletableFuture<Response> done(Response r) {
        return CompletableFuture.completedFuture(r);
    }
}
