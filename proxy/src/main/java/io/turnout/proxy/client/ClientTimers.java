package io.turnout.proxy.client;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A client's two deadlines: client_login_timeout until its login completes, and idle_transaction_timeout
 * while it holds a server inside a transaction without sending anything. A zero timeout is off. The
 * expiry task re-checks its condition: a timer cancelled too late must not kill a client that moved on.
 */
final class ClientTimers {
    private final EventLoop loop;
    private ScheduledFuture<?> login;
    private ScheduledFuture<?> idleTransaction;

    ClientTimers(EventLoop loop) {
        this.loop = loop;
    }

    void startLogin(Duration timeout, Runnable expired) {
        login = schedule(timeout, expired);
    }

    void loginDone() {
        if (login != null) {
            login.cancel(false);
            login = null;
        }
    }

    void startIdleTransaction(Duration timeout, Runnable expired) {
        cancelIdleTransaction();
        idleTransaction = schedule(timeout, expired);
    }

    void cancelIdleTransaction() {
        if (idleTransaction != null) {
            idleTransaction.cancel(false);
            idleTransaction = null;
        }
    }

    void cancelAll() {
        loginDone();
        cancelIdleTransaction();
    }

    private ScheduledFuture<?> schedule(Duration timeout, Runnable expired) {
        long millis = timeout.toMillis();
        return millis > 0 ? loop.schedule(expired, millis, TimeUnit.MILLISECONDS) : null;
    }
}
