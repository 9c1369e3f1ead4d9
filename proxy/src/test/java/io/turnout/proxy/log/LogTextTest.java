package io.turnout.proxy.log;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LogTextTest {
    @Test
    void plainTextIsUnchanged() {
        assertThat(LogText.of("app_db é 日本")).isEqualTo("app_db é 日本");
        assertThat(LogText.of(null)).isEqualTo("null");
    }

    @Test
    void quotesBackslashesAndControlCharactersAreEscaped() {
        assertThat(LogText.of("x\" admin=\\yes\nINFO forged\r\t\0\u001b\u0085\u2028"))
                .isEqualTo("x\\\" admin=\\\\yes\\nINFO forged\\r\\t\\u0000\\u001b\\u0085\\u2028");
    }

    @Test
    void aLoneSurrogateIsEscapedAndAPairKept() {
        assertThat(LogText.of("a\ud800b\ud83d\ude00")).isEqualTo("a\\ud800b\ud83d\ude00");
    }

    @Test
    void longValuesAreCut() {
        String s = LogText.of("y".repeat(10_000));
        assertThat(s).startsWith("y".repeat(LogText.MAX_CHARS)).endsWith("...(10000 chars)");
        assertThat(s.length()).isLessThan(LogText.MAX_CHARS + 20);
    }
}
