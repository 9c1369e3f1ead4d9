package io.turnout.protocol;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * The startup packet, SSLRequest, GSSENCRequest and CancelRequest reader, given what the frame scanner lets
 * through (a length word of 8..10000 that matches the bytes): PgProtocolException or a packet, nothing else.
 */
class StartupPacketFuzzTest {
    @FuzzTest(maxDuration = "3s")
    void parse(byte[] body) {
        int length = Math.min(body.length, PgFrameScanner.MAX_STARTUP_LENGTH - 4) + 4;
        if (length < 8) {
            return;
        }
        ByteBuf frame = Unpooled.buffer(length).writeInt(length).writeBytes(body, 0, length - 4);
        try {
            StartupPacket p = StartupPacket.parse(frame);
            p.parameters().forEach((k, v) -> {
                if (k.isEmpty()) {
                    throw new AssertionError("empty parameter name accepted");
                }
            });
        } catch (PgProtocolException expected) {
            // the client gets the ErrorResponse
        } finally {
            frame.release();
        }
    }
}
