package io.turnout.proxy.client;

import io.netty.channel.EventLoop;
import io.turnout.config.DatabaseConfig;
import io.turnout.proxy.log.LogText;
import io.turnout.proxy.pool.PoolShard;
import io.turnout.proxy.pool.Pools;
import io.turnout.proxy.server.ServerConnection;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Looks a user's secret up with auth_query on the database, logged in as auth_user, as PgBouncer does.
 * The user name is a bound parameter, never spliced into SQL. Asked on every login of a user missing
 * from auth_file, so a password change in PostgreSQL takes effect at once.
 */
final class AuthQuery implements PoolShard.Client {
    private static final Logger log = LoggerFactory.getLogger(AuthQuery.class);

    /** Receives the secret (null when the user does not exist or has no password) or a failure. */
    interface Result {
        void found(String secret);

        void failed(String sqlState, String message);
    }

    private final PoolShard shard;
    private final String sql;
    private final String user;
    private final Result result;
    private final long waitStart = System.nanoTime();
    private String secret;

    private AuthQuery(PoolShard shard, String sql, String user, Result result) {
        this.shard = shard;
        this.sql = sql;
        this.user = user;
        this.result = result;
    }

    /** Runs on {@code loop} (the client's); {@code result} is called there. */
    static void lookup(Pools pools, DatabaseConfig db, String authUser, String sql, String user, EventLoop loop,
                       Result result) {
        PoolShard shard = pools.authPool(db, authUser).shard(loop);
        shard.acquire(new AuthQuery(shard, sql, user, result));
    }

    @Override
    public void assign(ServerConnection server) {
        server.runInternal(sql, List.of(user), row -> {
            if (secret == null && row.size() >= 2) {
                secret = row.get(1);
            }
        }, (srv, error) -> {
            shard.release(srv);
            if (error != null) {
                log.warn("auth_query_failed user=\"{}\" error=\"{}\"", LogText.of(user), LogText.of(error));
                result.failed(error.sqlState(), "auth_query failed: " + error.message());
            } else {
                result.found(secret);
            }
        });
    }

    @Override
    public void refuse(String sqlState, String message) {
        result.failed(sqlState, "auth_query could not run: " + message);
    }

    @Override
    public long waitStartNanos() {
        return waitStart;
    }
}
