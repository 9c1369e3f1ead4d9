package io.turnout.protocol.auth;

import static io.turnout.protocol.auth.ScramTestSupport.*;

/**
 * A hand-driven SCRAM client for the RFC 7677 password, for message shapes ScramClient never sends
 * (gs2 flag "y", extensions in client-final).
 */
final class ScramClientTestPeer {
    private final String header;
    private final String cbind;
    private final String extension;
    private String expectedServerFinal;

    private ScramClientTestPeer(String header, String cbind, String extension) {
        this.header = header;
        this.cbind = cbind;
        this.extension = extension;
    }

    static ScramClientTestPeer withHeader(String header, String cbindBase64) {
        return new ScramClientTestPeer(header, cbindBase64, null);
    }

    static ScramClientTestPeer withExtension(String extension) {
        return new ScramClientTestPeer("n,,", "biws", extension);
    }

    byte[] clientFirst() {
        return bytes(header + bare());
    }

    byte[] clientFinal(byte[] serverFirst) {
        String serverFirstText = str(serverFirst);
        String nonce = serverFirstText.substring(2, serverFirstText.indexOf(','));
        String withoutProof = "c=" + cbind + ",r=" + nonce + (extension == null ? "" : "," + extension);
        byte[] authMessage = bytes(bare() + "," + serverFirstText + "," + withoutProof);
        byte[] salted = ScramCrypto.hi(bytes(PASSWORD), SALT, 4096);
        byte[] clientKey = ScramCrypto.clientKey(salted);
        byte[] proof = ScramCrypto.xor(clientKey, ScramCrypto.hmac(ScramCrypto.sha256(clientKey), authMessage));
        expectedServerFinal = "v=" + ScramCrypto.b64(ScramCrypto.hmac(ScramCrypto.serverKey(salted), authMessage));
        return bytes(withoutProof + ",p=" + ScramCrypto.b64(proof));
    }

    String expectedServerFinal() {
        return expectedServerFinal;
    }

    private static String bare() {
        return "n=user,r=" + CLIENT_NONCE;
    }
}
