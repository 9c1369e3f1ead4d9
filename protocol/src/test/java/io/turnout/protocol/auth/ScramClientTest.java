package io.turnout.protocol.auth;

import static io.turnout.protocol.auth.ScramTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ScramClientTest {

    @Test
    void reproducesRfc7677ExchangeFromThePassword() throws AuthException {
        ScramClient client = new ScramClient(PASSWORD, "user", CLIENT_NONCE);

        assertThat(str(client.clientFirstMessage())).isEqualTo(CLIENT_FIRST);
        assertThat(str(client.handleServerFirst(bytes(SERVER_FIRST)))).isEqualTo(CLIENT_FINAL);
        assertThatCode(() -> client.verifyServerFinal(bytes(SERVER_FINAL))).doesNotThrowAnyException();
    }

    @Test
    void reproducesRfc7677ExchangeFromClientKeyAndServerKey() throws AuthException {
        byte[] salted = ScramCrypto.hi(bytes(PASSWORD), SALT, 4096);
        ScramClient client = new ScramClient(ScramCrypto.clientKey(salted), ScramCrypto.serverKey(salted), "user",
                CLIENT_NONCE);

        assertThat(str(client.clientFirstMessage())).isEqualTo(CLIENT_FIRST);
        assertThat(str(client.handleServerFirst(bytes(SERVER_FIRST)))).isEqualTo(CLIENT_FINAL);
        client.verifyServerFinal(bytes(SERVER_FINAL));
    }

    @Test
    void passThroughIgnoresSaltAndIterations() throws AuthException {
        byte[] salted = ScramCrypto.hi(bytes(PASSWORD), SALT, 4096);
        ScramClient client = new ScramClient(ScramCrypto.clientKey(salted), ScramCrypto.serverKey(salted), "user",
                CLIENT_NONCE);
        client.clientFirstMessage();
        String otherParams = SERVER_FIRST.replace("s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "s=AAAA,i=1");

        byte[] clientFinal = client.handleServerFirst(bytes(otherParams));

        // Only the AuthMessage changed, so the proof differs from the RFC's but the nonce echo is the same.
        assertThat(str(clientFinal)).startsWith("c=biws,r=" + CLIENT_NONCE + SERVER_NONCE + ",p=")
                .isNotEqualTo(CLIENT_FINAL);
    }

    @Test
    void sendsEmptyUsernameAndFreshNonceLikeLibpq() {
        String first = str(new ScramClient("pw").clientFirstMessage());
        String other = str(new ScramClient("pw").clientFirstMessage());

        assertThat(first).matches("n,,n=,r=[A-Za-z0-9+/]{24}");
        assertThat(first).isNotEqualTo(other);
    }

    @Test
    void rejectsServerFinalWithWrongSignature() throws AuthException {
        ScramClient client = rfcClientAfterServerFirst();

        assertThatThrownBy(() -> client.verifyServerFinal(bytes("v=" + ScramCrypto.b64(new byte[32]))))
                .isInstanceOf(AuthException.class)
                .hasMessageContaining("signature mismatch");
    }

    @Test
    void reportsServerErrorAttribute() throws AuthException {
        ScramClient client = rfcClientAfterServerFirst();

        assertThatThrownBy(() -> client.verifyServerFinal(bytes("e=invalid-proof")))
                .isInstanceOf(AuthException.class)
                .hasMessage("server rejected SCRAM authentication: invalid-proof");
    }

    @Test
    void rejectsMalformedServerFinal() throws AuthException {
        for (String bad : new String[] {"", "x=1", "v=***", "v=", "V=" + SERVER_FINAL.substring(2)}) {
            ScramClient client = rfcClientAfterServerFirst();
            assertThatThrownBy(() -> client.verifyServerFinal(bytes(bad)))
                    .as("server-final %s", bad)
                    .isInstanceOf(AuthException.class);
        }
    }

    @Test
    void rejectsServerNonceThatDoesNotExtendOurs() {
        String[] bad = {
            SERVER_FIRST.replace("r=rOpr", "r=XOpr"),                                 // not our prefix
            "r=" + CLIENT_NONCE + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",               // nothing appended
            "r=" + CLIENT_NONCE + "\u0001x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",        // not printable
        };
        for (String serverFirst : bad) {
            ScramClient client = new ScramClient(PASSWORD, "user", CLIENT_NONCE);
            client.clientFirstMessage();
            assertThatThrownBy(() -> client.handleServerFirst(bytes(serverFirst)))
                    .as("server-first %s", serverFirst)
                    .isInstanceOf(AuthException.class)
                    .hasMessageContaining("nonce");
        }
    }

    @Test
    void rejectsBadIterationCountSaltAndShape() {
        String nonce = "r=" + CLIENT_NONCE + SERVER_NONCE;
        String[] bad = {
            nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
            nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-5",
            nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=lots",
            nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
            nonce + ",s=!!notbase64!!,i=4096",
            nonce + ",s=,i=4096",
            nonce + ",i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==",
            nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==",
            "m=ext," + nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "",
        };
        for (String serverFirst : bad) {
            ScramClient client = new ScramClient(PASSWORD, "user", CLIENT_NONCE);
            client.clientFirstMessage();
            assertThatThrownBy(() -> client.handleServerFirst(bytes(serverFirst)))
                    .as("server-first %s", serverFirst)
                    .isInstanceOf(AuthException.class);
        }
    }

    @Test
    void enforcesMessageOrder() throws AuthException {
        ScramClient client = new ScramClient(PASSWORD, "user", CLIENT_NONCE);
        assertThatThrownBy(() -> client.handleServerFirst(bytes(SERVER_FIRST))).isInstanceOf(IllegalStateException.class);
        client.clientFirstMessage();
        assertThatThrownBy(client::clientFirstMessage).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> client.verifyServerFinal(bytes(SERVER_FINAL))).isInstanceOf(IllegalStateException.class);
        client.handleServerFirst(bytes(SERVER_FIRST));
        client.verifyServerFinal(bytes(SERVER_FINAL));
        assertThatThrownBy(() -> client.verifyServerFinal(bytes(SERVER_FINAL))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void validatesConstructorArguments() {
        assertThatThrownBy(() -> new ScramClient("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ScramClient(new byte[31], new byte[32])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ScramClient(new byte[32], new byte[33])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ScramClient("pw", "", "a,b")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void copiesKeysGivenForPassThrough() throws AuthException {
        byte[] salted = ScramCrypto.hi(bytes(PASSWORD), SALT, 4096);
        byte[] clientKey = ScramCrypto.clientKey(salted);
        ScramClient client = new ScramClient(clientKey, ScramCrypto.serverKey(salted), "user", CLIENT_NONCE);
        clientKey[0] ^= 1;

        client.clientFirstMessage();
        assertThat(str(client.handleServerFirst(bytes(SERVER_FIRST)))).isEqualTo(CLIENT_FINAL);
    }

    private static ScramClient rfcClientAfterServerFirst() throws AuthException {
        ScramClient client = new ScramClient(PASSWORD, "user", CLIENT_NONCE);
        client.clientFirstMessage();
        client.handleServerFirst(bytes(SERVER_FIRST));
        return client;
    }
}
