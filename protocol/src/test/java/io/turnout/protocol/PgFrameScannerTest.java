package io.turnout.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PgFrameScannerTest {
    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    /** Records what the scanner reports; wants the frame types it is given. */
    private static final class Recorder implements PgFrameScanner.Listener {
        final String wanted;
        final String inspected;
        final ByteBuf forwarded = Unpooled.buffer();
        final List<String> starts = new ArrayList<>();
        final List<String> frames = new ArrayList<>();
        final List<String> inspections = new ArrayList<>();

        Recorder(String wanted) {
            this(wanted, "");
        }

        Recorder(String wanted, String inspected) {
            this.wanted = wanted;
            this.inspected = inspected;
        }

        @Override
        public int frameStart(byte type, int length) {
            starts.add((char) type + ":" + length);
            return wanted.indexOf(type) >= 0 ? PgFrameScanner.WHOLE
                    : inspected.indexOf(type) >= 0 ? PgFrameScanner.INSPECT : PgFrameScanner.PASS;
        }

        @Override
        public void inspect(byte type, ByteBuf buf, int index) {
            int total = buf.getInt(index + 1) + 1;
            // the frame was handed on already: it must be the tail of what was forwarded so far
            byte[] tail = ByteBufUtil.getBytes(forwarded, forwarded.writerIndex() - total, total);
            assertThat(tail).isEqualTo(ByteBufUtil.getBytes(buf, index, total));
            inspections.add((char) type + ":" + ByteBufUtil.hexDump(buf, index, total));
        }

        @Override
        public void passThrough(ByteBuf run) {
            forwarded.writeBytes(run);
            run.release();
        }

        @Override
        public void frame(byte type, ByteBuf frame) {
            assertThat(frame.getByte(frame.readerIndex())).isEqualTo(type == 0 ? frame.getByte(frame.readerIndex()) : type);
            frames.add((char) type + ":" + ByteBufUtil.hexDump(frame));
            forwarded.writeBytes(frame);
            frame.release();
        }
    }

    private static ByteBuf conversation() {
        ByteBuf b = Unpooled.buffer();
        PgWrite.parameterStatus(b, "TimeZone", "UTC");
        b.writeByte('D').writeInt(4 + 2 + 4 + 3).writeShort(1).writeInt(3).writeBytes("abc".getBytes());
        PgWrite.commandComplete(b, "SELECT 1");
        PgWrite.readyForQuery(b, (byte) 'I');
        b.writeByte('D').writeInt(4 + 300).writeZero(300);
        PgWrite.errorResponse(b, "ERROR", "42P01", "relation \"x\" does not exist");
        PgWrite.readyForQuery(b, (byte) 'E');
        return b;
    }

    @Test
    void everySplitOffsetGivesTheSameFramesAndBytes() {
        ByteBuf wire = conversation();
        byte[] bytes = ByteBufUtil.getBytes(wire);
        wire.release();
        for (String[] mode : new String[][] {{"", ""}, {"Z", ""}, {"SZE", ""}, {"DSCZE", ""}, {"", "Z"},
                {"E", "SZ"}, {"", "DSCZE"}}) {
            String wanted = mode[0];
            Recorder whole = run(mode, bytes, bytes.length, bytes.length);
            // every single split offset, and a grid of three-way splits
            for (int a = 0; a <= bytes.length; a++) {
                for (int b = a; b <= bytes.length; b += (a % 13 == 0 ? 5 : bytes.length + 1)) {
                    Recorder split = run(mode, bytes, a, b);
                    assertThat(split.starts).as("starts, split at %d/%d", a, b).isEqualTo(whole.starts);
                    assertThat(split.frames).as("frames, split at %d/%d", a, b).isEqualTo(whole.frames);
                    assertThat(split.inspections).as("inspections, split at %d/%d", a, b).isEqualTo(whole.inspections);
                    assertThat(ByteBufUtil.getBytes(split.forwarded)).isEqualTo(bytes);
                    split.forwarded.release();
                }
            }
            assertThat(whole.starts).hasSize(7);
            assertThat(whole.frames).hasSize((int) wanted.chars().mapToLong(c -> whole.starts.stream().filter(s -> s.charAt(0) == c).count()).sum());
            assertThat(whole.inspections).hasSize((int) mode[1].chars().mapToLong(c -> whole.starts.stream().filter(s -> s.charAt(0) == c).count()).sum());
            whole.forwarded.release();
        }
    }

    private static Recorder run(String[] mode, byte[] bytes, int cut1, int cut2) {
        Recorder r = new Recorder(mode[0], mode[1]);
        PgFrameScanner scanner = new PgFrameScanner(ALLOC, Integer.MAX_VALUE, false);
        scanner.scan(copy(bytes, 0, cut1), r);
        scanner.scan(copy(bytes, cut1, cut2), r);
        scanner.scan(copy(bytes, cut2, bytes.length), r);
        assertThat(scanner.midFrame()).isFalse();
        scanner.release();
        return r;
    }

    private static ByteBuf copy(byte[] bytes, int from, int to) {
        ByteBuf b = ALLOC.buffer(Math.max(1, to - from));
        b.writeBytes(bytes, from, to - from);
        return b;
    }

    @Test
    void frameStartSeesExactlyTheBodyBytesAlreadyRead() {
        ByteBuf wire = Unpooled.buffer();
        PgWrite.query(wire, "select 1");
        PgWrite.parse(wire, "S_1", "select 2");
        byte[] bytes = ByteBufUtil.getBytes(wire);
        wire.release();
        for (int cut = 0; cut <= bytes.length; cut++) {
            List<String> seen = new ArrayList<>();
            PgFrameScanner.Listener peeker = new PgFrameScanner.Listener() {
                @Override
                public int frameStart(byte type, int length) {
                    throw new AssertionError("the five-argument variant is called");
                }

                @Override
                public int frameStart(byte type, int length, ByteBuf buf, int bodyIndex, int readable) {
                    assertThat(readable).isBetween(0, length - 4);
                    seen.add((char) type + ":" + buf.toString(bodyIndex, readable, java.nio.charset.StandardCharsets.UTF_8));
                    return PgFrameScanner.PASS;
                }

                @Override
                public void passThrough(ByteBuf run) {
                    run.release();
                }

                @Override
                public void frame(byte type, ByteBuf frame) {
                    frame.release();
                }
            };
            PgFrameScanner scanner = new PgFrameScanner(ALLOC, 1 << 20, false);
            scanner.scan(copy(bytes, 0, cut), peeker);
            scanner.scan(copy(bytes, cut, bytes.length), peeker);
            scanner.release();
            assertThat(seen).hasSize(2);
            assertThat("Q:select 1\0").startsWith(seen.get(0));
            assertThat("P:S_1\0select 2\0\0\0").startsWith(seen.get(1));
        }
    }

    @Test
    void passThroughFramesStreamWithoutWaitingForTheirTail() {
        ByteBuf big = Unpooled.buffer();
        big.writeByte('D').writeInt(4 + 10_000).writeZero(10_000);
        byte[] bytes = ByteBufUtil.getBytes(big);
        big.release();
        Recorder r = new Recorder("Z");
        PgFrameScanner scanner = new PgFrameScanner(ALLOC, Integer.MAX_VALUE, false);
        scanner.scan(copy(bytes, 0, 1000), r);
        assertThat(r.forwarded.readableBytes()).isEqualTo(1000);
        assertThat(scanner.midFrame()).isTrue();
        scanner.scan(copy(bytes, 1000, bytes.length), r);
        assertThat(r.forwarded.readableBytes()).isEqualTo(bytes.length);
        assertThat(scanner.midFrame()).isFalse();
        r.forwarded.release();
        scanner.release();
    }

    @Test
    void startupPacketIsUntypedThenTypedFramesFollow() {
        ByteBuf wire = Unpooled.buffer();
        PgWrite.startupMessage(wire, Map.of("user", "alice", "database", "db"));
        PgWrite.query(wire, "select 1");
        byte[] bytes = ByteBufUtil.getBytes(wire);
        wire.release();
        for (int cut = 0; cut <= bytes.length; cut++) {
            Recorder r = new Recorder("\0Q");
            PgFrameScanner scanner = new PgFrameScanner(ALLOC, 1 << 20, true);
            scanner.scan(copy(bytes, 0, cut), r);
            scanner.scan(copy(bytes, cut, bytes.length), r);
            assertThat(r.starts).hasSize(2);
            assertThat(r.starts.get(0)).startsWith("\0:");
            assertThat(r.starts.get(1)).startsWith("Q:");
            assertThat(r.frames).hasSize(2);
            r.forwarded.release();
            scanner.release();
        }
    }

    @Test
    void startupPacketParsesParameters() {
        ByteBuf wire = Unpooled.buffer();
        PgWrite.startupMessage(wire, new java.util.LinkedHashMap<>(Map.of("user", "alice")));
        StartupPacket p = StartupPacket.parse(wire);
        assertThat(p.majorVersion()).isEqualTo(3);
        assertThat(p.parameters()).containsEntry("user", "alice");
        wire.release();
    }

    @Test
    void oversizedAndUndersizedLengthsAreProtocolViolations() {
        PgFrameScanner scanner = new PgFrameScanner(ALLOC, 1000, false);
        Recorder r = new Recorder("");
        ByteBuf tooBig = ALLOC.buffer().writeByte('Q').writeInt(1001);
        assertThatThrownBy(() -> scanner.scan(tooBig, r)).isInstanceOf(PgProtocolException.class)
                .hasMessageContaining("max_packet_size");
        ByteBuf tooSmall = ALLOC.buffer().writeByte('Q').writeInt(3);
        assertThatThrownBy(() -> new PgFrameScanner(ALLOC, 1000, false).scan(tooSmall, r))
                .isInstanceOf(PgProtocolException.class);
        ByteBuf badStartup = ALLOC.buffer().writeInt(20_000).writeInt(196608);
        assertThatThrownBy(() -> new PgFrameScanner(ALLOC, 1000, true).scan(badStartup, r))
                .isInstanceOf(PgProtocolException.class).hasMessageContaining("startup packet length");
        assertThat(tooBig.refCnt()).isZero();
        assertThat(tooSmall.refCnt()).isZero();
        assertThat(badStartup.refCnt()).isZero();
        r.forwarded.release();
        scanner.release();
    }
}
