package io.turnout.protocol.auth;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * What a server sends Turnout's login to it: server-first-message, then server-final-message. Half the
 * inputs extend the client's nonce, so the fuzzer gets past the nonce check. Keys are given rather than a
 * password, so a huge iteration count costs nothing here. Only AuthException may come out, and a fuzzed
 * server signature is never accepted.
 */
class ScramClientFuzzTest {
    private static final byte[] KEY = new byte[32];
    private static final String NONCE = "fyko+d2lbbFgONRv9qkxdawL";

    @FuzzTest(maxDuration = "3s")
    void exchange(FuzzedDataProvider data) {
        ScramClient client = new ScramClient(KEY, KEY, "", NONCE);
        client.clientFirstMessage();
        byte[] first = data.consumeBoolean()
                ? ("r=" + NONCE + data.consumeString(200)).getBytes(StandardCharsets.ISO_8859_1)
                : data.consumeBytes(200);
        try {
            client.handleServerFirst(first);
        } catch (AuthException expected) {
            return;
        }
        try {
            client.verifyServerFinal(data.consumeRemainingAsBytes());
            throw new AssertionError("a fuzzed server signature was accepted");
        } catch (AuthException expected) {
            // e=..., malformed, or the wrong signature
        }
    }
}
