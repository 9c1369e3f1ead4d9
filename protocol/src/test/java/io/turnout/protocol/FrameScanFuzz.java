package io.turnout.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The shared body of the two PgFrameScanner fuzz targets: the fuzzer picks the listener's answer for every
 * frame, where the stream is split into reads, and the bytes. Whatever it picks, the scanner either throws
 * its own PgProtocolException or hands on exactly the bytes it was given, in order, and every buffer ends
 * released: the reads it took, the runs and frames it handed out, the partial frame it kept.
 */
final class FrameScanFuzz {
    private FrameScanFuzz() {
    }

    static void run(FuzzedDataProvider data, boolean startupPhase) {
        int maxFrame = data.pickValue(new int[] {4, 16, 1024, 1 << 20});
        byte[] answers = data.consumeBytes(8);
        int[] cuts = data.consumeInts(8);
        byte[] stream = data.consumeRemainingAsBytes();
        // every split of a short stream, the fuzzer's splits of any
        if (stream.length <= 24) {
            for (int cut = 0; cut <= stream.length; cut++) {
                scan(stream, new int[] {cut}, answers, maxFrame, startupPhase);
            }
        }
        scan(stream, cuts, answers, maxFrame, startupPhase);
    }

    private static void scan(byte[] stream, int[] cuts, byte[] answers, int maxFrame, boolean startupPhase) {
        PgFrameScanner scanner = new PgFrameScanner(ByteBufAllocator.DEFAULT, maxFrame, startupPhase);
        List<ByteBuf> reads = new ArrayList<>();
        ByteBuf forwarded = ByteBufAllocator.DEFAULT.heapBuffer();
        int[] frameNo = {0};
        PgFrameScanner.Listener listener = new PgFrameScanner.Listener() {
            @Override
            public int frameStart(byte type, int length) {
                int a = answers.length == 0 ? 0 : answers[frameNo[0]++ % answers.length] & 0xff;
                if (type == FrontendType.UNTYPED && (a & 4) != 0) {
                    scanner.expectStartup(); // as after an SSLRequest
                }
                return a % 3;
            }

            @Override
            public void passThrough(ByteBuf run) {
                forwarded.writeBytes(run);
                run.release();
            }

            @Override
            public void frame(byte type, ByteBuf frame) {
                forwarded.writeBytes(frame);
                frame.release();
            }

            @Override
            public void inspect(byte type, ByteBuf buf, int index) {
                assertThat(buf.getByte(index)).isEqualTo(type);
            }
        };
        try {
            int at = 0;
            for (int i = 0; i <= cuts.length && at <= stream.length; i++) {
                int end = i < cuts.length ? Math.min(stream.length, at + Math.floorMod(cuts[i], stream.length + 1))
                        : stream.length;
                ByteBuf read = ByteBufAllocator.DEFAULT.buffer(end - at);
                read.writeBytes(stream, at, end - at);
                reads.add(read);
                scanner.scan(read, listener);
                at = end;
                if (at == stream.length) {
                    break;
                }
            }
        } catch (PgProtocolException expected) {
            // a bad length field: the connection closes, having forwarded only whole, checked frames
        } finally {
            scanner.release();
        }
        byte[] out = new byte[forwarded.readableBytes()];
        forwarded.readBytes(out);
        forwarded.release();
        assertThat(out).as("forwarded bytes are a prefix of the stream")
                .isEqualTo(Arrays.copyOf(stream, out.length));
        for (ByteBuf r : reads) {
            assertThat(r.refCnt()).as("a read buffer the scanner took is released").isZero();
        }
    }
}
