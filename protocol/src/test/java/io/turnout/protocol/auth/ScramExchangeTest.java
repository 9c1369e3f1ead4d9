package io.turnout.protocol.auth;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Base64;
import org.junit.jupiter.api.Test;

/** ScramClient against ScramServer, including the pooler's pass-through login. */
class ScramExchangeTest {
    private static final String PASSWORD = randomPassword();

    @Test
    void clientAndServerAgreeOnTheRightPassword() throws AuthException {
        ScramSecret secret = ScramSecret.fromPassword(PASSWORD);
        ScramServer server = new ScramServer(secret);
        ScramClient client = new ScramClient(PASSWORD);

        byte[] serverFinal = server.handleClientFinal(client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage())));
        client.verifyServerFinal(serverFinal);

        assertThat(ScramCrypto.sha256(server.clientKey())).isEqualTo(secret.storedKey());
    }

    @Test
    void channelBindingToTheSameCertificateSucceeds() throws AuthException {
        byte[] endPoint = ScramCrypto.sha256(new byte[] {1, 2, 3});
        ScramServer server = new ScramServer(ScramSecret.fromPassword(PASSWORD)).bindChannel(endPoint, true);
        ScramClient client = new ScramClient(PASSWORD).bindChannel(endPoint);
        byte[] first = client.clientFirstMessage();
        assertThat(new String(first, US_ASCII)).startsWith("p=tls-server-end-point,,n=,r=");
        client.verifyServerFinal(server.handleClientFinal(client.handleServerFirst(server.handleClientFirst(first))));
    }

    @Test
    void channelBindingRefusesAnotherCertificateAndDowngrades() throws AuthException {
        // a man in the middle terminating TLS shows the client its own certificate: the hashes differ
        ScramServer server = new ScramServer(ScramSecret.fromPassword(PASSWORD))
                .bindChannel(ScramCrypto.sha256(new byte[] {1}), true);
        ScramClient client = new ScramClient(PASSWORD).bindChannel(ScramCrypto.sha256(new byte[] {2}));
        byte[] clientFinal = client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage()));
        assertThatThrownBy(() -> server.handleClientFinal(clientFinal)).isInstanceOf(AuthException.class)
                .hasMessageContaining("channel binding check failed");
        // "y": the client could bind but believes the server cannot, though it offered -PLUS
        ScramServer offered = new ScramServer(ScramSecret.fromPassword(PASSWORD)).bindChannel(new byte[32], false);
        assertThatThrownBy(() -> offered.handleClientFirst("y,,n=,r=abc".getBytes(US_ASCII)))
                .hasMessageContaining("channel binding negotiation error");
        // -PLUS chosen without binding data, and binding without a TLS connection
        ScramServer plus = new ScramServer(ScramSecret.fromPassword(PASSWORD)).bindChannel(new byte[32], true);
        assertThatThrownBy(() -> plus.handleClientFirst("n,,n=,r=abc".getBytes(US_ASCII)))
                .hasMessageContaining("sent no channel binding");
        assertThatThrownBy(() -> new ScramServer(ScramSecret.fromPassword(PASSWORD))
                .handleClientFirst("p=tls-server-end-point,,n=,r=abc".getBytes(US_ASCII)))
                .hasMessageContaining("only SCRAM-SHA-256 without it is offered");
        ScramServer unique = new ScramServer(ScramSecret.fromPassword(PASSWORD)).bindChannel(new byte[32], true);
        assertThatThrownBy(() -> unique.handleClientFirst("p=tls-unique,,n=,r=abc".getBytes(US_ASCII)))
                .hasMessageContaining("unsupported SCRAM channel-binding type");
    }

    @Test
    void serverRejectsTheWrongPassword() throws AuthException {
        ScramServer server = new ScramServer(ScramSecret.fromPassword(PASSWORD));
        ScramClient client = new ScramClient(PASSWORD + "x");

        byte[] clientFinal = client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage()));

        assertThatThrownBy(() -> server.handleClientFinal(clientFinal))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("invalid client proof");
    }

    @Test
    void clientRejectsATamperedServerSignature() throws AuthException {
        ScramServer server = new ScramServer(ScramSecret.fromPassword(PASSWORD));
        ScramClient client = new ScramClient(PASSWORD);

        byte[] serverFinal = server.handleClientFinal(client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage())));
        byte[] signature = Base64.getDecoder().decode(new String(serverFinal, 2, serverFinal.length - 2, US_ASCII));
        signature[31] ^= 1;
        byte[] tampered = ("v=" + Base64.getEncoder().encodeToString(signature)).getBytes(US_ASCII);

        assertThatThrownBy(() -> client.verifyServerFinal(tampered))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("signature mismatch");
    }

    @Test
    void clientRejectsAServerThatDoesNotHoldTheSecret() throws AuthException {
        // An impostor holding the StoredKey (enough to accept the proof) but not the ServerKey cannot sign.
        ScramSecret real = ScramSecret.fromPassword(PASSWORD);
        ScramSecret impostorSecret = new ScramSecret(real.iterations(), real.salt(), real.storedKey(),
                ScramSecret.fromPassword("other", real.salt(), real.iterations()).serverKey());
        ScramServer impostor = new ScramServer(impostorSecret);
        ScramClient client = new ScramClient(PASSWORD);

        byte[] serverFinal = impostor.handleClientFinal(client.handleServerFirst(impostor.handleClientFirst(client.clientFirstMessage())));

        assertThatThrownBy(() -> client.verifyServerFinal(serverFinal)).isInstanceOf(AuthException.class);
    }

    @Test
    void passThroughLogsInToASecondServerWithTheRecoveredClientKey() throws AuthException {
        ScramSecret secret = ScramSecret.fromPassword(PASSWORD);

        // The application authenticates to the pooler...
        ScramServer pooler = new ScramServer(secret);
        ScramClient application = new ScramClient(PASSWORD);
        application.verifyServerFinal(pooler.handleClientFinal(
                application.handleServerFirst(pooler.handleClientFirst(application.clientFirstMessage()))));
        byte[] clientKey = pooler.clientKey();

        // ...and the pooler logs in to PostgreSQL, which holds the same secret, without the password.
        ScramServer postgres = new ScramServer(ScramSecret.parse(secret.encode()));
        ScramClient passThrough = new ScramClient(clientKey, secret.serverKey());
        passThrough.verifyServerFinal(postgres.handleClientFinal(
                passThrough.handleServerFirst(postgres.handleClientFirst(passThrough.clientFirstMessage()))));

        assertThat(postgres.clientKey()).isEqualTo(clientKey);
    }

    @Test
    void passThroughFailsAgainstAServerWithAnotherSecret() throws AuthException {
        ScramSecret secret = ScramSecret.fromPassword(PASSWORD);
        ScramServer pooler = new ScramServer(secret);
        ScramClient application = new ScramClient(PASSWORD);
        application.verifyServerFinal(pooler.handleClientFinal(
                application.handleServerFirst(pooler.handleClientFirst(application.clientFirstMessage()))));

        // Same password, new salt: PostgreSQL re-hashed it (ALTER ROLE ... PASSWORD), so the keys differ.
        ScramServer postgres = new ScramServer(ScramSecret.fromPassword(PASSWORD));
        ScramClient passThrough = new ScramClient(pooler.clientKey(), secret.serverKey());
        byte[] clientFinal = passThrough.handleServerFirst(postgres.handleClientFirst(passThrough.clientFirstMessage()));

        assertThatThrownBy(() -> postgres.handleClientFinal(clientFinal)).isInstanceOf(AuthException.class);
    }

    @Test
    void nonAsciiPasswordsAgreeThroughSaslPrep() throws AuthException {
        // The secret is made from the composed form, the client types the decomposed one and a soft hyphen.
        ScramSecret secret = ScramSecret.fromPassword("p\u00e4ssw\u00f6rd");
        ScramServer server = new ScramServer(secret);
        ScramClient client = new ScramClient("pa\u0308ss\u00ADw\u00f6rd");

        client.verifyServerFinal(server.handleClientFinal(client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage()))));

        assertThat(server.clientKey()).hasSize(32);
    }

    private static String randomPassword() {
        byte[] raw = ScramCrypto.randomBytes(24);
        return Base64.getEncoder().encodeToString(raw) + "\u00e9\u4e2d";
    }
}
