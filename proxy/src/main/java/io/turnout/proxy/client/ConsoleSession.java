package io.turnout.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.util.function.BiConsumer;

/**
 * The admin console as a client connection sees it, once its user logged in to the console's database:
 * it takes every frame. admin/ implements it, so client/ never imports admin/.
 */
public interface ConsoleSession {
    /** The end of login: parameters a driver needs, the cancel key, ReadyForQuery. */
    void welcome(int cancelKey, int cancelSecret);

    /** How much of a frame of {@code type} and {@code length} to gather (PgFrameScanner's answer). */
    int frameStart(byte type, int length);

    /** Takes ownership of {@code frame}. */
    void onFrame(byte type, ByteBuf frame);

    /** Opens a console for a client; {@code fatal} sends a FATAL ErrorResponse (SQLSTATE, message) and closes. */
    interface Opener {
        ConsoleSession open(Channel channel, String user, boolean fullAccess, BiConsumer<String, String> fatal);
    }
}
