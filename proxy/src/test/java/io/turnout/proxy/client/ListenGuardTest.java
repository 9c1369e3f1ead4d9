package io.turnout.proxy.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.turnout.config.ListenMode;
import io.turnout.protocol.FrontendType;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ListenGuardTest {
    private static ByteBuf query(String sql) {
        byte[] s = sql.getBytes(StandardCharsets.UTF_8);
        return Unpooled.buffer().writeByte('Q').writeInt(4 + s.length + 1).writeBytes(s).writeByte(0);
    }

    private static ByteBuf parse(String name, String sql, int... types) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        byte[] s = sql.getBytes(StandardCharsets.UTF_8);
        ByteBuf b = Unpooled.buffer().writeByte('P').writeInt(0).writeBytes(n).writeByte(0).writeBytes(s).writeByte(0)
                .writeShort(types.length);
        for (int t : types) {
            b.writeInt(t);
        }
        return b.setInt(1, b.writerIndex() - 1);
    }

    private static boolean mayMatter(ByteBuf frame, int readable) {
        try {
            return ListenGuard.mayMatter(frame.getByte(0), frame.getInt(1), frame, 5,
                    Math.min(readable, frame.writerIndex() - 5));
        } finally {
            frame.release();
        }
    }

    @Test
    void onlyTextThatMayStartWithListenIsLookedAt() {
        assertThat(mayMatter(query("select 1"), 1000)).isFalse();
        assertThat(mayMatter(query("  \n-- x\n/* a /* nested */ b */ ListEn \"c\""), 1000)).isTrue();
        assertThat(mayMatter(query("listener_count()"), 1000)).isFalse();
        assertThat(mayMatter(query("listen"), 1000)).isTrue(); // a syntax error in PostgreSQL: refusing it is as good
        assertThat(mayMatter(query("listen x"), 1000)).isTrue();
        assertThat(mayMatter(query("unlisten *"), 1000)).isTrue();
        assertThat(mayMatter(query("-1"), 1000)).isFalse();
        assertThat(mayMatter(query(""), 1000)).isFalse();
        assertThat(mayMatter(query("lis"), 3)).as("cut short: read it whole").isTrue();
        assertThat(mayMatter(query("/* long comment"), 5)).isTrue();
        assertThat(mayMatter(parse("s1", "LISTEN a"), 1000)).isTrue();
        assertThat(mayMatter(parse("s1", "select 1"), 1000)).isFalse();
        assertThat(mayMatter(parse("s1", "select 1"), 1)).isTrue();
        assertThat(mayMatter(query(" ".repeat(ListenGuard.MAX_UNDECIDED_WHOLE) + "select 1"), 0))
                .as("a big frame streams when undecided").isFalse();
        assertThat(mayMatter(query(" ".repeat(ListenGuard.MAX_UNDECIDED_WHOLE) + "listen x"), 100_000))
                .as("decided: held whole").isTrue();
    }

    @Test
    void errorModeReplacesTheTextAndKeepsParseNameAndTypes() {
        ListenGuard g = new ListenGuard(ListenMode.ERROR);
        ByteBuf out = g.onStatement(FrontendType.PARSE, parse("s1", "LISTEN a", 23), ByteBufAllocator.DEFAULT);
        try {
            ByteBuf expected = parse("s1", ListenGuard.REFUSAL, 23);
            assertThat(out).isEqualTo(expected);
            expected.release();
        } finally {
            out.release();
        }
        ByteBuf q = g.onStatement(FrontendType.QUERY, query("listen a"), ByteBufAllocator.DEFAULT);
        ByteBuf expected = query(ListenGuard.REFUSAL);
        assertThat(q).isEqualTo(expected);
        q.release();
        expected.release();
        ByteBuf other = query("select 1");
        assertThat(g.onStatement(FrontendType.QUERY, other, ByteBufAllocator.DEFAULT)).isSameAs(other);
        other.release();
        assertThat(g.pinned()).isFalse();
    }

    @Test
    void pinModePinsUntilUnlistenAll() {
        ListenGuard g = new ListenGuard(ListenMode.PIN);
        ByteBuf f = query("LISTEN a");
        assertThat(g.onStatement(FrontendType.QUERY, f, ByteBufAllocator.DEFAULT)).isSameAs(f);
        f.release();
        assertThat(g.pinned()).isTrue();
        f = query("UNLISTEN a");
        g.onStatement(FrontendType.QUERY, f, ByteBufAllocator.DEFAULT).release();
        assertThat(g.pinned()).isTrue();
        f = query("unlisten/**/*");
        g.onStatement(FrontendType.QUERY, f, ByteBufAllocator.DEFAULT).release();
        assertThat(g.pinned()).isFalse();
    }
}
