package io.turnout.proxy.server;

import java.util.List;

/**
 * Whether a server just logged in is a standby: PostgreSQL 14+ says so at login ({@code in_hot_standby}
 * ParameterStatus), older ones are asked {@code select pg_is_in_recovery()}. A leader must prove it is not one,
 * a replica that it is, before either serves a transaction.
 */
public final class ServerRole {
    /** The answer, on the server's loop: {@code standby} null when the question failed ({@code evidence} says why). */
    public interface Answer {
        void answered(ServerConnection server, Boolean standby, String evidence);
    }

    private ServerRole() {
    }

    /** From the login's in_hot_standby when the server reported it, else by {@link #ask}. */
    public static void check(ServerConnection server, Answer answer) {
        String hot = server.loginParams().get("in_hot_standby");
        if (hot != null) {
            answer.answered(server, hot.equals("on"), "in_hot_standby=" + hot);
        } else {
            ask(server, answer);
        }
    }

    /** By {@code select pg_is_in_recovery()} (what a promotion changes on a connection already open). */
    public static void ask(ServerConnection server, Answer answer) {
        boolean[] recovering = new boolean[1];
        server.runInternal("select pg_is_in_recovery()", List.of(), row -> recovering[0] = "t".equals(row.get(0)),
                (srv, error) -> answer.answered(srv, error == null ? recovering[0] : null,
                        error == null ? "pg_is_in_recovery() = " + recovering[0] : error.message()));
    }
}
