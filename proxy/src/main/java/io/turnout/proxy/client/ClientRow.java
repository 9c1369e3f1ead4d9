package io.turnout.proxy.client;

import io.netty.channel.Channel;
import io.turnout.proxy.net.ProxyProtocol;
import io.turnout.proxy.pool.ConnectionInfo;
import io.turnout.proxy.tls.TlsHandshakes;

/** One client as SHOW CLIENTS prints it (and metrics and admin commands select it by). */
final class ClientRow {
    private ClientRow() {
    }

    /** Null once the client is closed; call on the client's loop. */
    static ConnectionInfo of(long id, long connectNanos, long lastRequestNanos, Channel channel, ServerLink link,
                             ClientWelcome welcome, boolean console) {
        ClientState state = link.state();
        if (state.shown == null) {
            return null;
        }
        String user = welcome.user();
        String database = welcome.database();
        String application = link.params().get("application_name");
        NamedStatements statements = link.statements();
        return new ConnectionInfo(false, id, user != null ? user : "(nouser)", database != null ? database : "(nodb)",
                link.pool(), state.shown, ConnectionInfo.host(ProxyProtocol.clientAddress(channel)),
                ConnectionInfo.port(ProxyProtocol.clientAddress(channel)),
                ConnectionInfo.host(channel.localAddress()), ConnectionInfo.port(channel.localAddress()),
                ConnectionInfo.epochMillis(connectNanos), ConnectionInfo.epochMillis(lastRequestNanos),
                state == ClientState.WAITING ? System.nanoTime() - link.waitStartNanos() : 0, false,
                link.server() != null ? link.server().id() : 0, 0, application != null ? application : "",
                statements != null ? statements.size() : 0, 0, console, TlsHandshakes.describe(channel));
    }
}
