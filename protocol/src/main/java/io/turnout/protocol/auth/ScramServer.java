package io.turnout.protocol.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;

/**
 * The server side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), checked the way PostgreSQL checks
 * it. Without {@link #bindChannel} gs2 headers "n,," and "y,," are accepted and channel binding ("p=...")
 * is refused; with it (a TLS connection, SCRAM-SHA-256-PLUS offered) "p=tls-server-end-point" is checked
 * against the certificate hash, and "y" is a downgrade. Like PostgreSQL, the username in client-first-message is ignored: the role comes
 * from the StartupMessage. One instance serves one exchange on one thread.
 */
public final class ScramServer {
    private enum State { AWAIT_CLIENT_FIRST, AWAIT_CLIENT_FINAL, SUCCEEDED, FAILED }

    /** Keys the per-username salts of {@link #forUnknownUser(String)}; stable for this process only. */
    private static final byte[] MOCK_SALT_KEY = ScramCrypto.randomBytes(ScramCrypto.KEY_LENGTH);

    private final ScramSecret secret;
    private final String serverNonce;
    /** A mock exchange for a missing role: runs every step, then fails. */
    private final boolean doomed;

    private State state = State.AWAIT_CLIENT_FIRST;
    private String gs2Header;
    private String clientFirstBare;
    private String serverFirst;
    private String nonce;
    private byte[] clientKey;
    /** tls-server-end-point data when this exchange runs over TLS, else null. */
    private byte[] channelBinding;
    private boolean plusSelected;

    public ScramServer(ScramSecret secret) {
        this(secret, ScramCrypto.randomNonce(), false);
    }

    /** For tests that replay fixed exchanges such as RFC 7677's. */
    ScramServer(ScramSecret secret, String serverNonce) {
        this(secret, serverNonce, false);
    }

    /** {@code doomed} makes the exchange fail at the last step whatever the proof; tests use it with a known secret. */
    ScramServer(ScramSecret secret, String serverNonce, boolean doomed) {
        this.secret = Objects.requireNonNull(secret, "secret");
        if (!ScramCrypto.isPrintableNonce(serverNonce)) {
            throw new IllegalArgumentException("server nonce must be non-empty printable ASCII without ','");
        }
        this.serverNonce = serverNonce;
        this.doomed = doomed;
    }

    /**
     * A mock exchange for a role that does not exist (or has no usable secret), so the reply flow and the
     * work done do not reveal that. Prefer {@link #forUnknownUser(String)}: here the salt is random, so two
     * attempts for the same name show different salts while a real role's salt never changes.
     */
    public static ScramServer forUnknownUser() {
        return mock(ScramCrypto.randomBytes(ScramSecret.DEFAULT_SALT_LENGTH));
    }

    /**
     * A mock exchange for a missing role whose salt is derived from the name, so repeated attempts see a
     * stable salt, as PostgreSQL does with its mock_auth_nonce. The salt changes when the process restarts.
     */
    public static ScramServer forUnknownUser(String username) {
        Objects.requireNonNull(username, "username");
        byte[] mac = ScramCrypto.hmac(MOCK_SALT_KEY, username.getBytes(StandardCharsets.UTF_8));
        return mock(Arrays.copyOf(mac, ScramSecret.DEFAULT_SALT_LENGTH));
    }

    private static ScramServer mock(byte[] salt) {
        ScramSecret random = new ScramSecret(ScramSecret.DEFAULT_ITERATIONS, salt,
                ScramCrypto.randomBytes(ScramCrypto.KEY_LENGTH), ScramCrypto.randomBytes(ScramCrypto.KEY_LENGTH));
        return new ScramServer(random, ScramCrypto.randomNonce(), true);
    }

    /**
     * This exchange runs over TLS whose tls-server-end-point data is {@code serverEndPoint} (RFC 5929),
     * and the client chose SCRAM-SHA-256-PLUS ({@code plus}) or plain SCRAM-SHA-256.
     */
    public ScramServer bindChannel(byte[] serverEndPoint, boolean plus) {
        expect(State.AWAIT_CLIENT_FIRST);
        this.channelBinding = serverEndPoint.clone();
        this.plusSelected = plus;
        return this;
    }

    /** Parses client-first-message and returns server-first-message ({@code r=...,s=...,i=...}). */
    public byte[] handleClientFirst(byte[] clientFirstMessage) throws AuthException {
        expect(State.AWAIT_CLIENT_FIRST);
        state = State.FAILED;
        String msg = ScramCrypto.latin1(Objects.requireNonNull(clientFirstMessage, "clientFirstMessage"));

        if (msg.isEmpty()) {
            throw new AuthException("malformed SCRAM client-first-message: empty");
        }
        int flagEnd = msg.indexOf(',');
        switch (msg.charAt(0)) {
            case 'n' -> {
                if (plusSelected) {
                    throw new AuthException("client selected SCRAM-SHA-256-PLUS but sent no channel binding");
                }
            }
            case 'y' -> {
                if (channelBinding != null) {
                    throw new AuthException("SCRAM channel binding negotiation error: the client supports channel"
                            + " binding but thinks the server does not, yet this server offered it");
                }
            }
            case 'p' -> {
                if (channelBinding == null || !plusSelected) {
                    throw new AuthException(channelBinding == null
                            ? "client requested SCRAM channel binding, but only SCRAM-SHA-256 without it is offered"
                            : "client requested SCRAM channel binding but did not select SCRAM-SHA-256-PLUS");
                }
                if (flagEnd < 0 || !msg.substring(0, flagEnd).equals("p=tls-server-end-point")) {
                    throw new AuthException("unsupported SCRAM channel-binding type (only tls-server-end-point)");
                }
            }
            default -> throw new AuthException("malformed SCRAM client-first-message: unexpected gs2 channel binding flag");
        }
        if (msg.charAt(0) != 'p' && (msg.length() < 2 || msg.charAt(1) != ',')) {
            throw new AuthException("malformed SCRAM client-first-message: no ',' after the channel binding flag");
        }
        if (msg.startsWith("a=", flagEnd + 1)) {
            throw new AuthException("client uses a SCRAM authorization identity, which is not supported");
        }
        if (msg.length() < flagEnd + 2 || msg.charAt(flagEnd + 1) != ',') {
            throw new AuthException("malformed SCRAM client-first-message: bad gs2 header");
        }
        String header = msg.substring(0, flagEnd + 2);
        String bare = msg.substring(flagEnd + 2);

        String[] attrs = bare.split(",", -1);
        if (attrs[0].startsWith("m=")) {
            throw new AuthException("client requires an unsupported SCRAM extension");
        }
        if (!attrs[0].startsWith("n=")) {
            throw new AuthException("malformed SCRAM client-first-message: expected username attribute n=");
        }
        if (attrs.length < 2 || !attrs[1].startsWith("r=")) {
            throw new AuthException("malformed SCRAM client-first-message: expected nonce attribute r=");
        }
        String clientNonce = attrs[1].substring(2);
        if (!ScramCrypto.isPrintableNonce(clientNonce)) {
            throw new AuthException("malformed SCRAM client-first-message: nonce empty or not printable");
        }
        requireExtensions(attrs, 2, attrs.length, "client-first-message");

        gs2Header = header;
        clientFirstBare = bare;
        nonce = clientNonce + serverNonce;
        serverFirst = "r=" + nonce + ",s=" + ScramCrypto.b64(secret.saltRef()) + ",i=" + secret.iterations();
        state = State.AWAIT_CLIENT_FINAL;
        return ScramCrypto.latin1(serverFirst);
    }

    /**
     * Checks client-final-message (channel binding echo, nonce, ClientProof) and returns
     * server-final-message ({@code v=<ServerSignature>}).
     */
    public byte[] handleClientFinal(byte[] clientFinalMessage) throws AuthException {
        expect(State.AWAIT_CLIENT_FINAL);
        state = State.FAILED;
        String msg = ScramCrypto.latin1(Objects.requireNonNull(clientFinalMessage, "clientFinalMessage"));

        String[] attrs = msg.split(",", -1);
        if (attrs.length < 3 || !attrs[0].startsWith("c=") || !attrs[1].startsWith("r=")
                || !attrs[attrs.length - 1].startsWith("p=")) {
            throw new AuthException("malformed SCRAM client-final-message: expected c=...,r=...,p=...");
        }
        byte[] cbind = decode(attrs[0].substring(2), "channel binding");
        byte[] expected = ScramCrypto.latin1(gs2Header);
        if (gs2Header.startsWith("p=")) {
            expected = Arrays.copyOf(expected, expected.length + channelBinding.length);
            System.arraycopy(channelBinding, 0, expected, gs2Header.length(), channelBinding.length);
        }
        if (!MessageDigest.isEqual(cbind, expected)) {
            throw new AuthException(gs2Header.startsWith("p=")
                    ? "SCRAM channel binding check failed: the client saw another TLS certificate"
                    : "SCRAM channel binding data does not match the client-first-message header");
        }
        if (!attrs[1].substring(2).equals(nonce)) {
            throw new AuthException("SCRAM nonce mismatch in client-final-message");
        }
        requireExtensions(attrs, 2, attrs.length - 1, "client-final-message");
        String proofAttr = attrs[attrs.length - 1];
        byte[] proof = decode(proofAttr.substring(2), "proof");
        if (proof.length != ScramCrypto.KEY_LENGTH) {
            throw new AuthException("malformed SCRAM client-final-message: proof has " + proof.length + " bytes");
        }

        String withoutProof = msg.substring(0, msg.length() - proofAttr.length() - 1);
        byte[] authMessage = ScramCrypto.latin1(clientFirstBare + ',' + serverFirst + ',' + withoutProof);
        byte[] recovered = ScramCrypto.xor(proof, ScramCrypto.hmac(secret.storedKeyRef(), authMessage));
        // The mock runs the same computation so a missing role costs the same as a wrong password.
        boolean proofOk = MessageDigest.isEqual(ScramCrypto.sha256(recovered), secret.storedKeyRef());
        if (doomed) {
            throw new AuthException("SCRAM authentication failed: role does not exist or has no SCRAM secret");
        }
        if (!proofOk) {
            throw new AuthException("SCRAM authentication failed: invalid client proof (wrong password)");
        }
        clientKey = recovered;
        state = State.SUCCEEDED;
        return ScramCrypto.latin1("v=" + ScramCrypto.b64(ScramCrypto.hmac(secret.serverKeyRef(), authMessage)));
    }

    /**
     * The client's ClientKey, recovered from its proof. Together with the secret's ServerKey it lets the
     * pooler log in to PostgreSQL as this client without knowing the password (see {@link ScramClient}).
     */
    public byte[] clientKey() {
        if (state != State.SUCCEEDED) {
            throw new IllegalStateException("ClientKey is only known after a successful SCRAM exchange");
        }
        return clientKey.clone();
    }

    private void expect(State expected) {
        if (state != expected) {
            throw new IllegalStateException("SCRAM exchange is in state " + state + ", not " + expected);
        }
    }

    /** RFC 5802 extensions are {@code <letter>=<value>}; we understand none and ignore them, as PostgreSQL does. */
    private static void requireExtensions(String[] attrs, int from, int to, String where) throws AuthException {
        for (int i = from; i < to; i++) {
            String a = attrs[i];
            if (a.length() < 2 || !isAsciiLetter(a.charAt(0)) || a.charAt(1) != '=') {
                throw new AuthException("malformed SCRAM " + where + ": bad attribute");
            }
        }
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    private static byte[] decode(String b64, String what) throws AuthException {
        try {
            return ScramCrypto.unb64(b64);
        } catch (IllegalArgumentException e) {
            throw new AuthException("malformed SCRAM client-final-message: invalid base64 in " + what);
        }
    }
}
