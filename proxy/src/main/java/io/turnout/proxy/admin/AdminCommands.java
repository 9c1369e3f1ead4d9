package io.turnout.proxy.admin;

import io.netty.channel.EventLoop;
import io.turnout.protocol.SqlState;
import io.turnout.proxy.log.LogText;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Parses one console command the way PgBouncer does ({@code WORD [WORD]} or {@code SET key = value}) and
 * runs it. admin_users may run everything, stats_users only SHOW.
 */
final class AdminCommands {
    private static final Logger log = LoggerFactory.getLogger(AdminCommands.class);
    private static final String WORD = "(\"(?:[^\"]|\"\")+\"|[0-9A-Za-z_]+)";
    private static final Pattern COMMAND = Pattern.compile("^\\s*" + WORD + "(?:\\s+" + WORD + ")?\\s*(?:;\\s*)?$");
    private static final Pattern SET = Pattern.compile(
            "^\\s*set\\s+" + WORD + "\\s*(?:=|\\s+to\\s+)\\s*('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[^\\s;]+)\\s*(?:;\\s*)?$",
            Pattern.CASE_INSENSITIVE);
    /** Session settings drivers send on connect; the console has no session, so they are acknowledged and ignored. */
    private static final Map<String, String> FAKE_PARAMS = Map.of("client_encoding", "UTF8",
            "default_transaction_isolation", "read committed", "standard_conforming_strings", "on",
            "datestyle", "ISO", "timezone", "UTC", "extra_float_digits", "3", "application_name", "",
            "search_path", "", "statement_timeout", "0", "intervalstyle", "postgres");

    private final Pooler turnout;
    private final String user;
    private final boolean fullAccess;
    private final AdminControl control;
    private final EventLoop loop;

    AdminCommands(Pooler turnout, String user, boolean fullAccess, EventLoop loop) {
        this.turnout = turnout;
        this.user = user;
        this.fullAccess = fullAccess;
        this.loop = loop;
        this.control = new AdminControl(turnout, loop);
    }

    CompletableFuture<Response> execute(String sql) {
        if (sql.isBlank()) {
            return done(Response.done("")); // EmptyQueryResponse, as PostgreSQL answers an empty query
        }
        Matcher set = SET.matcher(sql);
        if (set.matches()) {
            return set(unquote(set.group(1), '"').toLowerCase(Locale.ROOT), unquoteValue(set.group(2)));
        }
        Matcher m = COMMAND.matcher(sql);
        if (!m.matches()) {
            return invalid(sql);
        }
        String cmd = unquote(m.group(1), '"').toLowerCase(Locale.ROOT);
        String arg = m.group(2) == null ? "" : unquote(m.group(2), '"');
        if (cmd.equals("show")) {
            log.debug("admin_command user=\"{}\" command=\"{}\"", LogText.of(user), LogText.of(sql.trim()));
            return show(arg.toLowerCase(Locale.ROOT), sql);
        }
        if (!isControl(cmd)) {
            return invalid(sql);
        }
        if (!fullAccess) {
            return done(Response.error(SqlState.INSUFFICIENT_PRIVILEGE, "admin access needed"));
        }
        log.info("admin_command user=\"{}\" command=\"{}\"", LogText.of(user), LogText.of(sql.trim()));
        return control.run(cmd, arg, sql);
    }

    private static boolean isControl(String cmd) {
        return switch (cmd) {
            case "pause", "resume", "reconnect", "wait_close", "kill", "kill_client", "suspend", "shutdown",
                 "enable", "disable", "reload" -> true;
            default -> false;
        };
    }

    private CompletableFuture<Response> show(String what, String sql) {
        String fake = FAKE_PARAMS.get(what);
        if (fake != null) {
            return done(Response.table(new AdminResult("SHOW").columns(what, AdminResult.TEXT).row(fake)));
        }
        return switch (what) {
            case "help" -> done(Response.notice("Console usage", "\n\t" + String.join("\n\t", ShowSettings.HELP), "SHOW"));
            case "config" -> done(Response.table(ShowSettings.config(turnout.config())));
            case "version" -> done(Response.table(ShowSettings.version(turnout.version())));
            case "state" -> done(Response.table(ShowSettings.state(turnout.pools().allPaused(), turnout.suspended())));
            case "prepared" -> done(Response.table(ShowTopology.prepared(turnout.pools().prepared())));
            case "pools", "clients", "servers", "databases", "users", "lists", "stats", "stats_totals",
                 "stats_averages", "totals", "topology" -> snapshot(what);
            default -> invalid(sql);
        };
    }

    private CompletableFuture<Response> snapshot(String what) {
        return turnout.snapshots().collect().thenApply(snap -> Response.table(switch (what) {
            case "pools" -> ShowPools.pools(snap, turnout.pools());
            case "clients" -> ShowSockets.clients(snap);
            case "servers" -> ShowSockets.servers(snap);
            case "databases" -> ShowPools.databases(snap, turnout.pools(), turnout.config(), turnout.port());
            case "users" -> ShowPools.users(snap, turnout.pools(), turnout.config());
            case "lists" -> ShowPools.lists(snap, turnout.pools(), turnout.config());
            case "stats" -> ShowStats.stats(snap, turnout.statsHistory(), turnout.config().databases().keySet());
            case "stats_totals" -> ShowStats.totals(snap, turnout.config().databases().keySet());
            case "stats_averages" -> ShowStats.averages(snap, turnout.statsHistory(), turnout.config().databases().keySet());
            case "totals" -> ShowStats.grandTotals(snap, turnout.statsHistory());
            default -> ShowTopology.topology(turnout, snap);
        }));
    }

    private CompletableFuture<Response> set(String key, String value) {
        if (FAKE_PARAMS.containsKey(key)) {
            return done(Response.notice("SET ignored", null, "SET"));
        }
        if (!fullAccess) {
            return done(Response.error(SqlState.INSUFFICIENT_PRIVILEGE, "admin access needed"));
        }
        if (!ShowSettings.known(key)) {
            return done(Response.error(SqlState.INVALID_PARAMETER_VALUE, "unknown parameter: " + key));
        }
        if (ShowSettings.RESTART_ONLY.contains(key)) {
            return done(Response.error(SqlState.OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "parameter " + key + " cannot be changed while running (restart needed)"));
        }
        log.info("admin_command user=\"{}\" command=\"SET {} = {}\"", LogText.of(user), LogText.of(key), LogText.of(value));
        return done(control.set(key, value));
    }

    private static CompletableFuture<Response> invalid(String sql) {
        return done(Response.error(SqlState.SYNTAX_ERROR, "invalid command '" + sql.trim() + "', use SHOW HELP;"));
    }

    private static CompletableFuture<Response> done(Response r) {
        return CompletableFuture.completedFuture(r);
    }

    private static String unquote(String s, char q) {
        if (s.length() >= 2 && s.charAt(0) == q && s.charAt(s.length() - 1) == q) {
            return s.substring(1, s.length() - 1).replace(String.valueOf(q) + q, String.valueOf(q));
        }
        return s;
    }

    private static String unquoteValue(String v) {
        return v.startsWith("'") ? unquote(v, '\'') : unquote(v, '"');
    }
}
