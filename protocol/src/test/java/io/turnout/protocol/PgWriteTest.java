package io.turnout.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Byte vectors for the result-set messages the admin console writes. */
class PgWriteTest {
    @Test
    void rowDescriptionOfATextAndAnInt4Column() {
        ByteBuf out = Unpooled.buffer();
        try {
            PgWrite.rowDescription(out, List.of("db", "n"), new int[] {25, 23});
            assertThat(ByteBufUtil.hexDump(out)).isEqualTo(
                    "54" + "0000002f" + "0002"
                            + "646200" + "00000000" + "0000" + "00000019" + "ffff" + "ffffffff" + "0000"
                            + "6e00" + "00000000" + "0000" + "00000017" + "0004" + "ffffffff" + "0000");
        } finally {
            out.release();
        }
    }

    @Test
    void dataRowWithATextValueANullAndUtf8() {
        ByteBuf out = Unpooled.buffer();
        try {
            PgWrite.dataRow(out, Arrays.asList("ab", null, "é"));
            assertThat(ByteBufUtil.hexDump(out)).isEqualTo(
                    "44" + "00000016" + "0003" + "00000002" + "6162" + "ffffffff" + "00000002" + "c3a9");
        } finally {
            out.release();
        }
    }

    @Test
    void errorResponseNeverCarriesANulInsideAField() {
        ByteBuf out = Unpooled.buffer();
        try {
            PgWrite.errorResponse(out, "FATAL", "08P01", "a\0b");
            // S FATAL, V FATAL, C 08P01, M "a\\0b": the field ends at its own NUL, then the terminator
            assertThat(ByteBufUtil.hexDump(out)).isEqualTo("45" + "00000020"
                    + "53" + "464154414c00" + "56" + "464154414c00" + "43" + "303850303100"
                    + "4d" + "615c306200" + "00");
        } finally {
            out.release();
        }
    }
}
