package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** etcd's watch stream as bytes: objects must come out whole wherever the HTTP chunks cut them. */
class JsonObjectSplitterTest {
    /** Three watch messages as etcd's gateway writes them, plus strings that look like structure. */
    private static final String[] MESSAGES = {
        "{\"result\":{\"header\":{\"revision\":\"2\"},\"created\":true}}",
        "{\"result\":{\"header\":{\"revision\":\"3\"},\"events\":[{\"kv\":{\"key\":\"L3NlcnZpY2UvYS9sZWFkZXI=\","
                + "\"mod_revision\":\"3\",\"value\":\"YS0x\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"eA==\"}}]}}",
        "{\"s\":\"braces } { ] [ in a string, an escaped \\\" quote, a backslash \\\\\",\"u\":\"h\u00e9 \u2603 \ud83d\ude00\"}",
    };

    @Test
    void everySplitOfTheStreamYieldsTheSameObjects() throws IOException {
        for (String sep : new String[] {"\n", "", "\r\n  "}) {
            byte[] stream = (String.join(sep, MESSAGES) + sep).getBytes(StandardCharsets.UTF_8);
            for (int a = 0; a <= stream.length; a++) {
                for (int b = a; b <= stream.length; b += 7) {
                    JsonObjectSplitter s = new JsonObjectSplitter();
                    List<String> out = new ArrayList<>();
                    feed(s, stream, 0, a, out);
                    feed(s, stream, a, b, out);
                    feed(s, stream, b, stream.length, out);
                    assertThat(out).as("cut at %d and %d, separator '%s'", a, b, sep).containsExactly(MESSAGES);
                    assertThat(s.partial()).isFalse();
                }
            }
        }
    }

    @Test
    void byteByByteAndAnUnfinishedTail() throws IOException {
        byte[] stream = (MESSAGES[1] + "\n" + MESSAGES[0].substring(0, 20)).getBytes(StandardCharsets.UTF_8);
        JsonObjectSplitter s = new JsonObjectSplitter();
        List<String> out = new ArrayList<>();
        for (int i = 0; i < stream.length; i++) {
            feed(s, stream, i, i + 1, out);
        }
        assertThat(out).containsExactly(MESSAGES[1]);
        assertThat(s.partial()).as("half a message is waiting").isTrue();
    }

    @Test
    void somethingThatIsNotAnObjectIsAnError() {
        JsonObjectSplitter s = new JsonObjectSplitter();
        assertThatThrownBy(() -> s.feed(ByteBuffer.wrap("{}\n<html>".getBytes(StandardCharsets.UTF_8)), b -> { }))
                .isInstanceOf(IOException.class).hasMessageContaining("expected a JSON object");
    }

    private static void feed(JsonObjectSplitter s, byte[] all, int from, int to, List<String> out) throws IOException {
        s.feed(ByteBuffer.wrap(all, from, to - from), b -> out.add(new String(b, StandardCharsets.UTF_8)));
    }
}
