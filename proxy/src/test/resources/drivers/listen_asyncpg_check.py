"""LISTEN through Turnout in transaction mode with asyncpg (simple protocol); LISTEN_MODE is error or pin."""
import asyncio
import os

import asyncpg

PORT = int(os.environ["TURNOUT_PORT"])
DIRECT = int(os.environ["PG_DIRECT_PORT"])
MODE = os.environ["LISTEN_MODE"]


async def turnout():
    return await asyncpg.connect(host="127.0.0.1", port=PORT, user="alice", password="alice_pw", database="app",
                                 statement_cache_size=0)


async def main():
    con = await turnout()
    got = asyncio.Queue()
    if MODE == "error":
        try:
            await con.add_listener("apg_chan", lambda *args: got.put_nowait(args))
            raise SystemExit("LISTEN was accepted in transaction mode")
        except asyncpg.exceptions.FeatureNotSupportedError as e:
            assert e.sqlstate == "0A000", e.sqlstate
        assert await con.fetchval("select 1") == 1
        assert await con.fetchval("select count(*) from pg_listening_channels()") == 0
    else:
        await con.add_listener("apg_chan", lambda c, pid, channel, payload: got.put_nowait((channel, payload)))
        direct = await asyncpg.connect(host="127.0.0.1", port=DIRECT, user="postgres", password="postgres",
                                       database="app")
        await direct.execute("NOTIFY apg_chan, 'hi'")
        await direct.close()
        assert await asyncio.wait_for(got.get(), 20) == ("apg_chan", "hi")
    await con.close()
    # the server this client used listens to nothing any more (pool size 1: it is the same server)
    other = await turnout()
    assert await other.fetchval("select count(*) from pg_listening_channels()") == 0
    await other.close()
    print("OK 1")


asyncio.run(main())
