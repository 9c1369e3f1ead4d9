package io.turnout.proxy;

import io.turnout.config.ConfigException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * SIGTERM drains (the load balancer's deregistration, then the clients leave); a second SIGTERM, or SIGINT,
 * stops at once; SIGHUP reloads the file. Installed before the listener opens, so a client that can reach
 * Turnout can also signal it: a signal that arrives while the server is still starting waits for it.
 *
 * <p>A signal ignored when the JVM started (nohup, or a parent that ignores SIGHUP: its children inherit
 * that) cannot be handled from Java at all: HotSpot refuses to install a handler and {@link Signal#handle}
 * quietly answers SIG_IGN. That is logged as {@code signal_ignored}, since SIGHUP then reloads nothing;
 * bin/turnout resets SIGHUP to its default before starting the JVM.
 */
final class SignalHandlers {
    private static final Logger log = LoggerFactory.getLogger(SignalHandlers.class);

    private final CompletableFuture<TurnoutServer> server = new CompletableFuture<>();
    private final AtomicBoolean terminating = new AtomicBoolean();

    /** Installs the handlers; call before the server starts and {@link #started} once it has. */
    static SignalHandlers install() {
        SignalHandlers h = new SignalHandlers();
        h.handle("TERM", h::onTerm);
        h.handle("INT", () -> {
            log.info("turnout_stopping signal=INT");
            h.server.thenAccept(s -> new Thread(s::close, "turnout-stop").start());
        });
        h.handle("HUP", () -> h.server.thenAccept(SignalHandlers::reload));
        return h;
    }

    void started(TurnoutServer s) {
        server.complete(s);
    }

    /** The server did not start: a TERM or INT that arrived meanwhile has nothing left to stop. */
    void failed(Throwable e) {
        server.completeExceptionally(e);
    }

    private void onTerm() {
        if (!server.isDone()) {
            // nothing to drain yet: the JVM's own answer to TERM (shutdown hooks, exit)
            log.info("turnout_stopping signal=TERM note=\"while starting\"");
            new Thread(() -> System.exit(143), "turnout-stop").start();
        } else if (terminating.getAndSet(true)) {
            log.info("turnout_stopping signal=TERM note=\"second SIGTERM: stopping now\"");
            server.thenAccept(s -> new Thread(s::close, "turnout-stop").start());
        } else {
            server.thenAccept(TurnoutServer::drain);
        }
    }

    private static void reload(TurnoutServer s) {
        try {
            s.reload();
        } catch (ConfigException e) {
            log.error("config_reload_failed signal=HUP error=\"{}\"", e.getMessage());
        } catch (RuntimeException e) {
            log.error("config_reload_failed signal=HUP error=\"{}\"", e.toString());
        }
    }

    private void handle(String name, Runnable action) {
        SignalHandler old = Signal.handle(new Signal(name), sig -> action.run());
        if (old == SignalHandler.SIG_IGN) {
            log.warn("signal_ignored signal={} note=\"ignored since this process started (nohup?): Java cannot"
                    + " handle it; use the admin console (RELOAD, SHUTDOWN) or start Turnout with the signal at"
                    + " its default\"", name);
        }
    }
}
