package io.turnout.protocol.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;

/**
 * The client side of one SCRAM-SHA-256 exchange, used by the pooler to log in to PostgreSQL. It works
 * either from the password or, in pass-through mode, from a ClientKey recovered by {@link ScramServer}
 * plus the ServerKey of the stored secret: ClientProof = ClientKey XOR HMAC(H(ClientKey), AuthMessage)
 * needs neither the salt nor the iteration count. No channel binding ("n,,"), and an empty username as
 * libpq sends, since PostgreSQL takes the role from the StartupMessage. One instance serves one exchange.
 */
public final class ScramClient {
    private enum State { INITIAL, AWAIT_SERVER_FIRST, AWAIT_SERVER_FINAL, DONE, FAILED }

    private static final String GS2_HEADER = "n,,";
    private static final String GS2_PLUS = "p=tls-server-end-point,,";

    /** SASLprep'ed UTF-8 password, or null in pass-through mode. */
    private final byte[] password;
    private final byte[] givenClientKey;
    private final byte[] givenServerKey;
    private final String clientNonce;
    private final String clientFirstBare;

    private State state = State.INITIAL;
    private byte[] expectedServerSignature;
    /** tls-server-end-point data for SCRAM-SHA-256-PLUS, or null. */
    private byte[] channelBinding;

    /** Binds this exchange to the TLS connection whose server certificate hashes to {@code serverEndPoint}. */
    public ScramClient bindChannel(byte[] serverEndPoint) {
        expect(State.INITIAL);
        channelBinding = serverEndPoint.clone();
        return this;
    }

    public ScramClient(String password) {
        this(password, "", ScramCrypto.randomNonce());
    }

    public ScramClient(byte[] clientKey, byte[] serverKey) {
        this(clientKey, serverKey, "", ScramCrypto.randomNonce());
    }

    /** For tests that replay fixed exchanges such as RFC 7677's, which uses username "user". */
    ScramClient(String password, String username, String clientNonce) {
        Objects.requireNonNull(password, "password");
        if (password.isEmpty()) {
            throw new IllegalArgumentException("empty password");
        }
        this.password = SaslPrep.prepareBytes(password);
        this.givenClientKey = null;
        this.givenServerKey = null;
        this.clientNonce = checkNonce(clientNonce);
        this.clientFirstBare = "n=" + saslName(username) + ",r=" + clientNonce;
    }

    ScramClient(byte[] clientKey, byte[] serverKey, String username, String clientNonce) {
        this.password = null;
        this.givenClientKey = checkKey(clientKey, "ClientKey");
        this.givenServerKey = checkKey(serverKey, "ServerKey");
        this.clientNonce = checkNonce(clientNonce);
        this.clientFirstBare = "n=" + saslName(username) + ",r=" + clientNonce;
    }

    /** The SASLInitialResponse payload: {@code n,,n=,r=<nonce>}. */
    public byte[] clientFirstMessage() {
        expect(State.INITIAL);
        state = State.AWAIT_SERVER_FIRST;
        return ScramCrypto.latin1(gs2Header() + clientFirstBare);
    }

    /** Checks server-first-message and returns client-final-message carrying the ClientProof. */
    public byte[] handleServerFirst(byte[] serverFirstMessage) throws AuthException {
        expect(State.AWAIT_SERVER_FIRST);
        state = State.FAILED;
        String msg = ScramCrypto.latin1(Objects.requireNonNull(serverFirstMessage, "serverFirstMessage"));

        String[] attrs = msg.split(",", -1);
        if (attrs[0].startsWith("m=")) {
            throw new AuthException("server requires an unsupported SCRAM extension");
        }
        if (attrs.length < 3 || !attrs[0].startsWith("r=") || !attrs[1].startsWith("s=")
                || !attrs[2].startsWith("i=")) {
            throw new AuthException("malformed SCRAM server-first-message: expected r=...,s=...,i=...");
        }
        String nonce = attrs[0].substring(2);
        // The server must extend our nonce; reusing ours alone would let a replayed exchange through.
        if (!nonce.startsWith(clientNonce) || nonce.length() == clientNonce.length()
                || !ScramCrypto.isPrintableNonce(nonce)) {
            throw new AuthException("SCRAM server nonce does not extend the client nonce");
        }
        byte[] salt;
        try {
            salt = ScramCrypto.unb64(attrs[1].substring(2));
        } catch (IllegalArgumentException e) {
            throw new AuthException("malformed SCRAM server-first-message: invalid base64 salt");
        }
        int iterations;
        try {
            iterations = Integer.parseInt(attrs[2].substring(2));
        } catch (NumberFormatException e) {
            iterations = 0;
        }
        if (iterations < 1 || salt.length == 0) {
            throw new AuthException("malformed SCRAM server-first-message: bad salt or iteration count");
        }

        byte[] clientKey;
        byte[] serverKey;
        if (password != null) {
            byte[] salted = SaltedPasswords.get(password, salt, iterations);
            clientKey = ScramCrypto.clientKey(salted);
            serverKey = ScramCrypto.serverKey(salted);
        } else {
            clientKey = givenClientKey;
            serverKey = givenServerKey;
        }
        byte[] cbind = ScramCrypto.latin1(gs2Header());
        if (channelBinding != null) {
            byte[] header = cbind;
            cbind = java.util.Arrays.copyOf(header, header.length + channelBinding.length);
            System.arraycopy(channelBinding, 0, cbind, header.length, channelBinding.length);
        }
        String withoutProof = "c=" + ScramCrypto.b64(cbind) + ",r=" + nonce;
        byte[] authMessage = ScramCrypto.latin1(clientFirstBare + ',' + msg + ',' + withoutProof);
        byte[] signature = ScramCrypto.hmac(ScramCrypto.sha256(clientKey), authMessage);
        byte[] proof = ScramCrypto.xor(clientKey, signature);
        expectedServerSignature = ScramCrypto.hmac(serverKey, authMessage);
        state = State.AWAIT_SERVER_FINAL;
        return ScramCrypto.latin1(withoutProof + ",p=" + ScramCrypto.b64(proof));
    }

    /** Checks server-final-message: an {@code e=} error or a ServerSignature that proves the server knows the secret. */
    public void verifyServerFinal(byte[] serverFinalMessage) throws AuthException {
        expect(State.AWAIT_SERVER_FINAL);
        state = State.FAILED;
        String msg = ScramCrypto.latin1(Objects.requireNonNull(serverFinalMessage, "serverFinalMessage"));
        String first = msg.split(",", -1)[0];
        if (first.startsWith("e=")) {
            throw new AuthException("server rejected SCRAM authentication: " + printable(first.substring(2)));
        }
        if (!first.startsWith("v=")) {
            throw new AuthException("malformed SCRAM server-final-message: expected v= or e=");
        }
        byte[] signature;
        try {
            signature = ScramCrypto.unb64(first.substring(2));
        } catch (IllegalArgumentException e) {
            throw new AuthException("malformed SCRAM server-final-message: invalid base64 signature");
        }
        if (!MessageDigest.isEqual(signature, expectedServerSignature)) {
            throw new AuthException("SCRAM server signature mismatch: the server does not hold this role's secret");
        }
        state = State.DONE;
    }

    private String gs2Header() {
        return channelBinding != null ? GS2_PLUS : GS2_HEADER;
    }

    private void expect(State expected) {
        if (state != expected) {
            throw new IllegalStateException("SCRAM exchange is in state " + state + ", not " + expected);
        }
    }

    /** RFC 5802 saslname: ',' and '=' are escaped as =2C and =3D. */
    private static String saslName(String username) {
        return new String(username.replace("=", "=3D").replace(",", "=2C").getBytes(StandardCharsets.UTF_8),
                StandardCharsets.ISO_8859_1);
    }

    private static String checkNonce(String nonce) {
        if (!ScramCrypto.isPrintableNonce(nonce)) {
            throw new IllegalArgumentException("client nonce must be non-empty printable ASCII without ','");
        }
        return nonce;
    }

    private static byte[] checkKey(byte[] key, String what) {
        Objects.requireNonNull(key, what);
        if (key.length != ScramCrypto.KEY_LENGTH) {
            throw new IllegalArgumentException(what + " must be " + ScramCrypto.KEY_LENGTH + " bytes, got " + key.length);
        }
        return key.clone();
    }

    /** Keeps a server-supplied error text from injecting control characters into our log. */
    private static String printable(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7F ? c : '?');
        }
        return b.toString();
    }
}
