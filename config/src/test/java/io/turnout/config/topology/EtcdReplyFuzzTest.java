package io.turnout.config.topology;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * etcd's gRPC-gateway stream: the object splitter over arbitrary reads, then each object as a range reply,
 * a watch message and an error. IOException only (a broken stream is reconnected).
 */
class EtcdReplyFuzzTest {
    @FuzzTest(maxDuration = "3s")
    void stream(FuzzedDataProvider data) {
        int cut = data.consumeInt(0, 64);
        byte[] bytes = data.consumeRemainingAsBytes();
        JsonObjectSplitter splitter = new JsonObjectSplitter();
        List<byte[]> objects = new ArrayList<>();
        try {
            int at = Math.min(cut, bytes.length);
            splitter.feed(ByteBuffer.wrap(bytes, 0, at), objects::add);
            splitter.feed(ByteBuffer.wrap(bytes, at, bytes.length - at), objects::add);
        } catch (IOException expected) {
            // an object over the limit or a stray byte between objects
        }
        for (byte[] o : objects) {
            JsonNode n;
            try {
                n = EtcdKv.JSON.readTree(o);
            } catch (IOException expected) {
                continue;
            }
            if (n == null) {
                continue;
            }
            EtcdKv.error(n);
            try {
                EtcdKv.range(n);
            } catch (IOException expected) {
                // not a range reply
            }
            try {
                EtcdKv.watch(n);
            } catch (IOException expected) {
                // not a watch message
            }
        }
    }
}
