package io.turnout.proxy.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * /metrics, /health and /ready on their own port. The JDK's HTTP server on one thread of its own: a
 * scrape or a load balancer probe never runs on (or waits for) the event loops that carry traffic.
 */
public final class HttpEndpoint implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HttpEndpoint.class);

    private final HttpServer server;

    public HttpEndpoint(MetricsSource turnout, Metrics metrics, String addr, int port) throws IOException {
        server = HttpServer.create(new InetSocketAddress(addr, port), 64);
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "turnout-http");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/metrics", ex -> reply(ex, 200, "text/plain; version=0.0.4; charset=utf-8",
                metrics.scrape()));
        server.createContext("/health", ex -> reply(ex, turnout.stopped() ? 503 : 200,
                "text/plain; charset=utf-8", turnout.stopped() ? "stopped\n" : "ok\n"));
        server.createContext("/ready", ex -> {
            List<String> problems = turnout.readiness();
            reply(ex, problems.isEmpty() ? 200 : 503, "text/plain; charset=utf-8",
                    problems.isEmpty() ? "ready\n" : "not ready: " + String.join("; ", problems) + "\n");
        });
        server.start();
        log.info("http_listening addr={} port={} paths=/metrics,/health,/ready", addr, port());
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void reply(HttpExchange ex, int status, String type, String body) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
                ex.sendResponseHeaders(405, -1);
                return;
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", type);
            boolean head = ex.getRequestMethod().equals("HEAD");
            ex.sendResponseHeaders(status, head ? -1 : bytes.length);
            if (!head) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(bytes);
                }
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
