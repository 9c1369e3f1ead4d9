package io.turnout.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * When each change of one etcd key reached a client, by the test's own watch stream on it (not Turnout's
 * code): the moment "Patroni wrote the new leader key" that a failover test measures Turnout against. A watch
 * delivers a change within a millisecond or two on one machine, where polling would add its interval.
 */
public final class EtcdKeyWatch implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    /** A change: when it arrived (System.nanoTime) and the new value (null: the key was deleted). */
    public record Change(long nanos, String value) {
    }

    private final String key;
    private final List<Change> changes = new CopyOnWriteArrayList<>();
    private final CompletableFuture<HttpResponse<Stream<String>>> response;
    private final CompletableFuture<Void> created = new CompletableFuture<>();

    private EtcdKeyWatch(EtcdServer etcd, String key) {
        this.key = key;
        String body = JSON.createObjectNode().set("create_request", JSON.createObjectNode().put("key", EtcdClient.encode(key)))
                .toString();
        HttpRequest req = HttpRequest.newBuilder(URI.create(etcd.endpoint() + "/v3/watch"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        response = HTTP.sendAsync(req, HttpResponse.BodyHandlers.ofLines());
        response.thenAccept(r -> {
            Thread t = new Thread(() -> {
                try {
                    r.body().forEach(this::line);
                } catch (java.io.UncheckedIOException e) {
                    // closed by close(), or etcd went away: no more changes to record
                }
            }, "etcd-key-watch");
            t.setDaemon(true);
            t.start();
        });
    }

    /** Starts watching {@code key} and returns once etcd confirmed the watch (later changes are all seen). */
    public static EtcdKeyWatch start(EtcdServer etcd, String key) throws Exception {
        EtcdKeyWatch w = new EtcdKeyWatch(etcd, key);
        w.created.get(60, java.util.concurrent.TimeUnit.SECONDS);
        return w;
    }

    private void line(String line) {
        long now = System.nanoTime();
        try {
            JsonNode r = JSON.readTree(line).path("result");
            if (r.path("created").asBoolean(false)) {
                created.complete(null);
            }
            for (JsonNode e : r.path("events")) {
                boolean delete = e.path("type").asText("PUT").equals("DELETE");
                changes.add(new Change(now, delete ? null : EtcdClient.decode(e.path("kv").path("value").asText())));
            }
        } catch (IOException e) {
            created.completeExceptionally(e);
        }
    }

    public List<Change> changes() {
        return List.copyOf(changes);
    }

    /** The first PUT at or after {@code sinceNanos} whose value matches, waiting up to {@code timeout}. */
    public Change awaitPut(Predicate<String> value, long sinceNanos, Duration timeout) throws InterruptedException {
        // each change carries its own arrival time: the poll interval does not bias the measurement
        return Await.value("a matching PUT of " + key, timeout, Duration.ofMillis(5), () -> changes.stream()
                .filter(c -> c.value() != null && c.nanos() >= sinceNanos && value.test(c.value()))
                .findFirst().orElse(null), () -> "saw " + changes);
    }

    @Override
    public void close() {
        response.cancel(true);
        response.thenAccept(r -> r.body().close());
    }
}
