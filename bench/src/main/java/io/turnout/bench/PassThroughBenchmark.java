package io.turnout.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.turnout.protocol.BackendType;
import io.turnout.protocol.FrontendType;
import io.turnout.protocol.PgFrameScanner;
import io.turnout.protocol.PgWrite;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One pgbench -S transaction through the user-space part of Turnout's forwarding path, both directions:
 * a client Query read from a channel, scanned and written to the server channel; the server's reply
 * read, scanned (ReadyForQuery inspected) and written to the client channel, with the per-read flush. Sockets are EmbeddedChannels,
 * so this measures the pooler's own work per transaction, not the kernel's.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class PassThroughBenchmark {
    private EmbeddedChannel client;
    private EmbeddedChannel server;
    private ByteBuf query;
    private ByteBuf reply;

    /** Forwards what it reads to {@code peer}: runs as they are, wanted frames after a look. */
    static final class Forwarder extends ChannelInboundHandlerAdapter implements PgFrameScanner.Listener {
        private final PgFrameScanner scanner;
        private final byte inspected;
        EmbeddedChannel peer;
        int readyCount;

        Forwarder(byte inspected) {
            this.scanner = new PgFrameScanner(PooledByteBufAllocator.DEFAULT, Integer.MAX_VALUE, false);
            this.inspected = inspected;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            scanner.scan((ByteBuf) msg, this);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            peer.flush();
        }

        @Override
        public int frameStart(byte type, int length) {
            return type == inspected ? PgFrameScanner.INSPECT : PgFrameScanner.PASS;
        }

        @Override
        public void inspect(byte type, ByteBuf buf, int index) {
            readyCount += buf.getByte(index + 5) == 'I' ? 1 : 0;
        }

        @Override
        public void passThrough(ByteBuf run) {
            peer.write(run, peer.voidPromise());
        }

        @Override
        public void frame(byte type, ByteBuf frame) {
            peer.write(frame, peer.voidPromise());
        }
    }

    @Setup(Level.Trial)
    public void setup() {
        Forwarder fromClient = new Forwarder(FrontendType.TERMINATE);
        Forwarder fromServer = new Forwarder(BackendType.READY_FOR_QUERY);
        client = new EmbeddedChannel(fromClient);
        server = new EmbeddedChannel(fromServer);
        fromClient.peer = server;
        fromServer.peer = client;
        query = PooledByteBufAllocator.DEFAULT.directBuffer();
        PgWrite.query(query, "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;");
        reply = PooledByteBufAllocator.DEFAULT.directBuffer();
        PgbenchReply.write(reply, 1);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        query.release();
        reply.release();
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }

    @Benchmark
    public Object transaction() {
        client.writeInbound(query.retainedDuplicate());
        ByteBuf toServer = server.readOutbound();
        toServer.release();
        server.writeInbound(reply.retainedDuplicate());
        ByteBuf toClient;
        Object last = null;
        while ((toClient = client.readOutbound()) != null) {
            last = toClient;
            toClient.release();
        }
        return last;
    }
}
