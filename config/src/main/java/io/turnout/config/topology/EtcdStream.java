package io.turnout.config.topology;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;

/**
 * One watch exchange with etcd's gateway: bytes arrive on HTTP client threads, are cut into whole JSON
 * messages and parsed there, and each message (then the end of the stream, once) is handed to the loop in
 * order. {@link #cancel()} closes the connection: an HTTP/1.1 stream cannot be stopped any other way.
 */
final class EtcdStream implements Flow.Subscriber<List<ByteBuffer>> {
    private final URI base;
    private final boolean resumed;
    private final Executor loop;
    private final Consumer<JsonNode> onMessage;
    private final Consumer<String> onEnd;
    private final JsonObjectSplitter splitter = new JsonObjectSplitter();
    private volatile CompletableFuture<?> exchange;
    private volatile Flow.Subscription subscription;
    private volatile boolean cancelled;

    /** {@code onMessage} and {@code onEnd} run on {@code loop}; {@code resumed}: started after a break, not a read. */
    EtcdStream(URI base, boolean resumed, Executor loop, Consumer<JsonNode> onMessage, Consumer<String> onEnd) {
        this.base = base;
        this.resumed = resumed;
        this.loop = loop;
        this.onMessage = onMessage;
        this.onEnd = onEnd;
    }

    URI base() {
        return base;
    }

    boolean resumed() {
        return resumed;
    }

    /** The HTTP exchange this subscriber reads; its failure before any byte (refused, no headers) ends the stream. */
    void open(CompletableFuture<?> response) {
        exchange = response;
        response.whenComplete((r, t) -> {
            if (t != null) {
                hand(() -> onEnd.accept(DcsHttp.describe(t)));
            }
        });
        if (cancelled) {
            response.cancel(true);
        }
    }

    void cancel() {
        cancelled = true;
        Flow.Subscription s = subscription;
        if (s != null) {
            s.cancel();
        }
        CompletableFuture<?> f = exchange;
        if (f != null) {
            f.cancel(true);
        }
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        subscription = s;
        if (cancelled) {
            s.cancel();
        } else {
            s.request(Long.MAX_VALUE); // messages are small and handled as fast as they come
        }
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
        try {
            for (ByteBuffer b : items) {
                splitter.feed(b, bytes -> {
                    try {
                        JsonNode json = EtcdKv.JSON.readTree(bytes);
                        hand(() -> onMessage.accept(json));
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            }
        } catch (IOException | UncheckedIOException e) {
            cancel();
            hand(() -> onEnd.accept("unreadable watch message: " + e.getMessage()));
        }
    }

    @Override
    public void onError(Throwable t) {
        hand(() -> onEnd.accept(DcsHttp.describe(t)));
    }

    @Override
    public void onComplete() {
        hand(() -> onEnd.accept("etcd closed it" + (splitter.partial() ? " mid-message" : "")));
    }

    private void hand(Runnable r) {
        try {
            loop.execute(r);
        } catch (RejectedExecutionException e) {
            // the source closed: nobody is listening any more
        }
    }
}
