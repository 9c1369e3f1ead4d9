package io.turnout.protocol.auth;

import static io.turnout.protocol.auth.ScramTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Base64;
import org.junit.jupiter.api.Test;

class ScramServerTest {

    @Test
    void reproducesRfc7677Exchange() throws AuthException {
        ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);

        assertThat(str(server.handleClientFirst(bytes(CLIENT_FIRST)))).isEqualTo(SERVER_FIRST);
        assertThat(str(server.handleClientFinal(bytes(CLIENT_FINAL)))).isEqualTo(SERVER_FINAL);
    }

    @Test
    void recoversTheClientKeyOfTheRfcPassword() throws AuthException {
        ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);
        server.handleClientFirst(bytes(CLIENT_FIRST));
        server.handleClientFinal(bytes(CLIENT_FINAL));

        byte[] expected = ScramCrypto.clientKey(ScramCrypto.hi(bytes(PASSWORD), SALT, 4096));
        assertThat(server.clientKey()).isEqualTo(expected);
        assertThat(ScramCrypto.sha256(server.clientKey())).isEqualTo(rfcSecret().storedKey());
    }

    @Test
    void ignoresTheUsernameInClientFirst() throws AuthException {
        // The username is signed as part of the AuthMessage but never looked up, as in PostgreSQL.
        ScramClient client = new ScramClient(PASSWORD, "some,one=else", CLIENT_NONCE);
        ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);

        byte[] clientFirst = client.clientFirstMessage();
        assertThat(str(clientFirst)).isEqualTo("n,,n=some=2Cone=3Delse,r=" + CLIENT_NONCE);
        byte[] serverFirst = server.handleClientFirst(clientFirst);
        assertThat(str(serverFirst)).isEqualTo(SERVER_FIRST);
        client.verifyServerFinal(server.handleClientFinal(client.handleServerFirst(serverFirst)));

        assertThat(server.clientKey()).hasSize(32);
    }

    @Test
    void serverFirstCarriesSaltIterationsAndExtendedNonce() throws AuthException {
        ScramSecret secret = ScramSecret.fromPassword("pw", new byte[] {1, 2, 3, 4}, 7);
        ScramServer server = new ScramServer(secret);

        String serverFirst = str(server.handleClientFirst(bytes("n,,n=,r=abc")));

        assertThat(serverFirst).matches("r=abc[A-Za-z0-9+/]{24},s=AQIDBA==,i=7");
    }

    @Test
    void acceptsGs2FlagYWhenItIsEchoedBack() throws AuthException {
        ScramClientTestPeer peer = ScramClientTestPeer.withHeader("y,,", "eSws");
        ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);

        byte[] serverFirst = server.handleClientFirst(peer.clientFirst());
        byte[] serverFinal = server.handleClientFinal(peer.clientFinal(serverFirst));

        assertThat(str(serverFinal)).isEqualTo(peer.expectedServerFinal());
    }

    @Test
    void rejectsChannelBindingRequests() {
        ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);
        assertThatThrownBy(() -> server.handleClientFirst(bytes("p=tls-server-end-point,,n=,r=abc")))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("channel binding");
    }

    @Test
    void rejectsAuthorizationIdentityAndMandatoryExtensions() {
        assertThatThrownBy(() -> new ScramServer(rfcSecret()).handleClientFirst(bytes("n,a=admin,n=,r=abc")))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("authorization identity");
        assertThatThrownBy(() -> new ScramServer(rfcSecret()).handleClientFirst(bytes("n,,m=ext,n=,r=abc")))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("extension");
    }

    @Test
    void rejectsMalformedClientFirst() {
        for (String bad : new String[] {"", "x,,n=,r=abc", "n", "n,", "n,,", "n,,r=abc", "n,,n=", "n,,n=,r=",
                "n,,n=,x=abc", "n,,n=,r=a b", "n,,n=,r=abc,=oops"}) {
            assertThatThrownBy(() -> new ScramServer(rfcSecret()).handleClientFirst(bytes(bad)))
                    .as("client-first %s", bad)
                    .isInstanceOf(AuthException.class);
        }
    }

    @Test
    void rejectsChannelBindingEchoThatDiffersFromTheHeader() throws AuthException {
        ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);
        server.handleClientFirst(bytes(CLIENT_FIRST));
        // "eSws" is base64 of "y,,", but the client said "n,,": a downgrade or a confused client.
        String tampered = CLIENT_FINAL.replace("c=biws", "c=eSws");

        assertThatThrownBy(() -> server.handleClientFinal(bytes(tampered)))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("channel binding");
    }

    @Test
    void rejectsNonceMismatch() throws AuthException {
        ScramServer server = new ScramServer(rfcSecret(), "otherServerNonce");
        server.handleClientFirst(bytes(CLIENT_FIRST));

        assertThatThrownBy(() -> server.handleClientFinal(bytes(CLIENT_FINAL)))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("nonce");
    }

    @Test
    void rejectsWrongProofAndForgetsTheClientKey() throws AuthException {
        ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);
        server.handleClientFirst(bytes(CLIENT_FIRST));
        byte[] proof = Base64.getDecoder().decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        proof[5] ^= 0x40;
        String tampered = CLIENT_FINAL.substring(0, CLIENT_FINAL.indexOf(",p=") + 3)
                + Base64.getEncoder().encodeToString(proof);

        assertThatThrownBy(() -> server.handleClientFinal(bytes(tampered)))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("wrong password");
        assertThatThrownBy(server::clientKey).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void rejectsMalformedClientFinal() throws AuthException {
        String nonce = CLIENT_NONCE + SERVER_NONCE;
        for (String bad : new String[] {"", "c=biws", "c=biws,r=" + nonce, "c=biws,r=" + nonce + ",p=!!!",
                "c=biws,r=" + nonce + ",p=AAAA", "r=" + nonce + ",c=biws,p=AAAA", "c=***,r=" + nonce + ",p=AAAA"}) {
            ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);
            server.handleClientFirst(bytes(CLIENT_FIRST));
            assertThatThrownBy(() -> server.handleClientFinal(bytes(bad)))
                    .as("client-final %s", bad)
                    .isInstanceOf(AuthException.class);
        }
    }

    @Test
    void ignoresOptionalExtensionsInClientFinalButSignsThem() throws AuthException {
        ScramClientTestPeer peer = ScramClientTestPeer.withExtension("x=ext");
        ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);

        byte[] serverFirst = server.handleClientFirst(peer.clientFirst());
        byte[] serverFinal = server.handleClientFinal(peer.clientFinal(serverFirst));

        assertThat(str(serverFinal)).isEqualTo(peer.expectedServerFinal());
    }

    @Test
    void enforcesMessageOrder() throws AuthException {
        ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);
        assertThatThrownBy(() -> server.handleClientFinal(bytes(CLIENT_FINAL))).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(server::clientKey).isInstanceOf(IllegalStateException.class);

        ScramServer second = new ScramServer(rfcSecret(), SERVER_NONCE);
        second.handleClientFirst(bytes(CLIENT_FIRST));
        assertThatThrownBy(() -> second.handleClientFirst(bytes(CLIENT_FIRST))).isInstanceOf(IllegalStateException.class);
        second.handleClientFinal(bytes(CLIENT_FINAL));
        assertThatThrownBy(() -> second.handleClientFinal(bytes(CLIENT_FINAL))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void failedExchangeCannotBeRetried() throws AuthException {
        ScramServer server = new ScramServer(rfcSecret(), SERVER_NONCE);
        server.handleClientFirst(bytes(CLIENT_FIRST));
        assertThatThrownBy(() -> server.handleClientFinal(bytes("garbage"))).isInstanceOf(AuthException.class);

        assertThatThrownBy(() -> server.handleClientFinal(bytes(CLIENT_FINAL))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void unknownUserRunsTheFullFlowThenFails() throws AuthException {
        ScramServer mock = ScramServer.forUnknownUser("ghost");
        ScramClient client = new ScramClient("whatever");

        String serverFirst = str(mock.handleClientFirst(client.clientFirstMessage()));
        assertThat(serverFirst).matches("r=[^,]{48},s=[A-Za-z0-9+/]{22}==,i=4096");
        byte[] clientFinal = client.handleServerFirst(bytes(serverFirst));

        assertThatThrownBy(() -> mock.handleClientFinal(clientFinal))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("does not exist");
        assertThatThrownBy(mock::clientKey).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void doomedExchangeFailsEvenWithACorrectProof() throws AuthException {
        // The mock's secret is random, so give a doomed server a known secret to show the failure is unconditional.
        ScramServer doomed = new ScramServer(rfcSecret(), SERVER_NONCE, true);
        assertThat(str(doomed.handleClientFirst(bytes(CLIENT_FIRST)))).isEqualTo(SERVER_FIRST);

        assertThatThrownBy(() -> doomed.handleClientFinal(bytes(CLIENT_FINAL)))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("does not exist");
        assertThatThrownBy(doomed::clientKey).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void unknownUserSaltIsStablePerNameAndDiffersAcrossNames() throws AuthException {
        assertThat(salt(ScramServer.forUnknownUser("ghost"))).isEqualTo(salt(ScramServer.forUnknownUser("ghost")));
        assertThat(salt(ScramServer.forUnknownUser("ghost"))).isNotEqualTo(salt(ScramServer.forUnknownUser("phantom")));
        assertThat(salt(ScramServer.forUnknownUser())).isNotEqualTo(salt(ScramServer.forUnknownUser()));
    }

    private static String salt(ScramServer server) throws AuthException {
        String serverFirst = str(server.handleClientFirst(bytes("n,,n=,r=abc")));
        return serverFirst.split(",")[1];
    }
}
