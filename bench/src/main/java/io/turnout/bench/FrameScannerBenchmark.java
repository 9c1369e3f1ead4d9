package io.turnout.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.turnout.protocol.BackendType;
import io.turnout.protocol.PgFrameScanner;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Cost of framing one server reply the way the pooler reads it: RowDescription, {@code rows} DataRows,
 * CommandComplete, ReadyForQuery, arriving in one read. ReadyForQuery is inspected: the whole reply
 * passes as one run.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class FrameScannerBenchmark {
    @Param({"1", "100"})
    int rows;

    private ByteBuf reply;
    private PgFrameScanner scanner;
    private Sink sink;

    /** Consumes what the scanner hands out, as the server handler would (forward = release here). */
    static final class Sink implements PgFrameScanner.Listener {
        Blackhole bh;

        @Override
        public int frameStart(byte type, int length) {
            return type == BackendType.READY_FOR_QUERY || type == BackendType.PARAMETER_STATUS
                    ? PgFrameScanner.INSPECT : PgFrameScanner.PASS;
        }

        @Override
        public void inspect(byte type, ByteBuf buf, int index) {
            bh.consume(buf.getByte(index + 5));
        }

        @Override
        public void passThrough(ByteBuf run) {
            bh.consume(run.readableBytes());
            run.release();
        }

        @Override
        public void frame(byte type, ByteBuf frame) {
            bh.consume(frame.getByte(frame.readerIndex() + 5));
            frame.release();
        }
    }

    @Setup(Level.Trial)
    public void setup() {
        reply = PooledByteBufAllocator.DEFAULT.directBuffer();
        PgbenchReply.write(reply, rows);
        scanner = new PgFrameScanner(PooledByteBufAllocator.DEFAULT, Integer.MAX_VALUE, false);
        sink = new Sink();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        reply.release();
        scanner.release();
    }

    @Benchmark
    public void scanReply(Blackhole bh) {
        sink.bh = bh;
        scanner.scan(reply.retainedDuplicate(), sink);
    }
}
