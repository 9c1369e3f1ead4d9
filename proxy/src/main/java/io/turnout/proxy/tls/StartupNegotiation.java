package io.turnout.proxy.tls;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslHandler;
import io.turnout.config.SslMode;
import io.turnout.protocol.PgWrite;
import io.turnout.protocol.SqlState;
import io.turnout.proxy.net.ProxyProtocol;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The start of a client connection, between the PROXY header and the StartupMessage: answers SSLRequest
 * ('S' and a TLS handshake when client_tls_sslmode is not disable, else 'N') and GSSENCRequest ('N'),
 * refuses a plaintext client when TLS is required, and then leaves the pipeline so the StartupMessage or
 * CancelRequest (and everything after) reaches the client connection, decrypted by the SslHandler it put
 * in front of itself. As PostgreSQL does, bytes that arrive behind an SSLRequest before its answer was read
 * are refused: they were sent in the clear and could have been injected (CVE-2021-23214).
 */
public final class StartupNegotiation extends ByteToMessageDecoder {
    private static final Logger log = LoggerFactory.getLogger(StartupNegotiation.class);
    private static final int SSL_REQUEST = 80877103;
    private static final int GSSENC_REQUEST = 80877104;
    private static final int CANCEL_REQUEST = 80877102;
    /** A TLS record of type handshake: no PostgreSQL packet length starts with this byte (it would be > 350 MB). */
    private static final byte TLS_HANDSHAKE_RECORD = 0x16;

    private final Supplier<TlsContexts> contexts;
    private final Duration loginTimeout;
    private boolean sslDone;
    private boolean gssDone;
    private boolean encrypted;

    /** {@code contexts} is read at the SSLRequest, so a RELOAD's new certificate serves new handshakes. */
    public StartupNegotiation(Supplier<TlsContexts> contexts, Duration loginTimeout) {
        this.contexts = contexts;
        this.loginTimeout = loginTimeout;
    }

    /** The negotiation behind a direct TLS handshake: nothing more may be negotiated. */
    private StartupNegotiation(Supplier<TlsContexts> contexts, Duration loginTimeout, boolean direct) {
        this(contexts, loginTimeout);
        sslDone = direct;
        gssDone = direct;
        encrypted = direct;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (!sslDone && !gssDone && in.isReadable() && in.getByte(in.readerIndex()) == TLS_HANDSHAKE_RECORD) {
            directTls(ctx);
            return;
        }
        if (in.readableBytes() < 8) {
            return;
        }
        int at = in.readerIndex();
        int length = in.getInt(at);
        int code = in.getInt(at + 4);
        boolean ssl = length == 8 && code == SSL_REQUEST;
        boolean gss = length == 8 && code == GSSENC_REQUEST;
        if ((ssl && sslDone) || (gss && gssDone)) {
            in.skipBytes(in.readableBytes());
            // what PostgreSQL says to a repeated negotiation: it reads the code as a protocol version
            refuse(ctx, SqlState.FEATURE_NOT_SUPPORTED, "unsupported frontend protocol " + (code >>> 16) + "."
                    + (code & 0xffff) + ": server supports 3.0 to 3.0");
            return;
        }
        if (ssl || gss) {
            in.skipBytes(8);
            TlsContexts tls = ssl ? contexts.get() : null;
            boolean accept = tls != null && tls.clientTls();
            if (in.isReadable()) {
                in.skipBytes(in.readableBytes());
                ctx.write(ctx.alloc().buffer(1).writeByte('N'));
                refuse(ctx, SqlState.PROTOCOL_VIOLATION, "received unencrypted data after "
                        + (ssl ? "SSL" : "GSSAPI encryption") + " request");
                return;
            }
            ctx.writeAndFlush(ctx.alloc().buffer(1).writeByte(accept ? 'S' : 'N'));
            if (ssl) {
                sslDone = true;
            } else {
                gssDone = true;
            }
            if (accept) {
                SslHandler h = tls.clientHandler(ctx.alloc(), loginTimeout);
                TlsHandshakes.watch(h, ctx.channel(), true);
                ctx.pipeline().addBefore(ctx.name(), "tls", h); // what arrives next is the ClientHello
                encrypted = true;
                gssDone = true; // after TLS, PostgreSQL accepts no GSS encryption either
            }
            return;
        }
        boolean cancel = length == 16 && code == CANCEL_REQUEST;
        TlsContexts tls = contexts.get();
        SslMode mode = tls != null ? tls.settings().clientMode() : SslMode.DISABLE;
        if (!encrypted && !cancel && mode.required()) {
            in.skipBytes(in.readableBytes());
            log.info("client_tls_required addr={} sslmode={}", ProxyProtocol.clientAddress(ctx.channel()), mode.key());
            refuse(ctx, SqlState.INVALID_AUTHORIZATION, "SSL required: this server accepts only encrypted"
                    + " connections (client_tls_sslmode " + mode.key() + "); connect with sslmode=require or stricter");
            return;
        }
        ctx.pipeline().remove(this); // the buffered StartupMessage / CancelRequest goes on to the client connection
    }

    /**
     * PostgreSQL 17's sslnegotiation=direct: the connection starts with a TLS ClientHello. Served only with
     * ALPN "postgresql" (as PostgreSQL does, so a stray HTTPS client is not taken for a database client).
     */
    private void directTls(ChannelHandlerContext ctx) {
        TlsContexts tls = contexts.get();
        if (tls == null || !tls.clientTls()) {
            log.info("client_startup_refused addr={} reason=\"direct TLS while client_tls_sslmode is disable\"",
                    ProxyProtocol.clientAddress(ctx.channel()));
            ctx.close();
            return;
        }
        SslHandler h = tls.clientHandler(ctx.alloc(), loginTimeout);
        TlsHandshakes.watch(h, ctx.channel(), true);
        h.handshakeFuture().addListener(f -> {
            ChannelHandlerContext next = ctx.pipeline().context("negotiation-tls");
            if (f.isSuccess() && !TlsContexts.ALPN.equals(h.applicationProtocol()) && next != null) {
                refuse(next, SqlState.PROTOCOL_VIOLATION,
                        "received direct SSL connection request without ALPN protocol negotiation extension");
            }
        });
        // the ClientHello buffered here goes on to the SslHandler when this decoder leaves the pipeline
        ctx.pipeline().addAfter(ctx.name(), "tls", h);
        ctx.pipeline().addAfter("tls", "negotiation-tls", new StartupNegotiation(contexts, loginTimeout, true));
        ctx.pipeline().remove(this);
    }

    private static void refuse(ChannelHandlerContext ctx, String sqlState, String message) {
        log.info("client_startup_refused addr={} sqlstate={} error=\"{}\"", ProxyProtocol.clientAddress(ctx.channel()),
                sqlState, message);
        ByteBuf err = ctx.alloc().buffer(64 + message.length());
        PgWrite.errorResponse(err, "FATAL", sqlState, message);
        ctx.writeAndFlush(err).addListener(ChannelFutureListener.CLOSE);
    }
}
