"""LISTEN through Turnout in transaction mode with psycopg 3 (extended protocol); LISTEN_MODE is error or pin."""
import os
import time

import psycopg
from psycopg import errors

PORT = int(os.environ["TURNOUT_PORT"])
DIRECT = int(os.environ["PG_DIRECT_PORT"])
MODE = os.environ["LISTEN_MODE"]


def turnout():
    return psycopg.connect(host="127.0.0.1", port=PORT, user="alice", password="alice_pw", dbname="app",
                           autocommit=True)


def channels(conn):
    return conn.execute("select count(*) from pg_listening_channels()").fetchone()[0]


with turnout() as conn:
    if MODE == "error":
        try:
            conn.execute("LISTEN psy_chan")
            raise SystemExit("LISTEN was accepted in transaction mode")
        except errors.FeatureNotSupported as e:
            assert e.sqlstate == "0A000", e.sqlstate
            assert "session" in str(e) or "session" in (e.diag.message_hint or ""), str(e)
        assert conn.execute("select 1").fetchone()[0] == 1  # the connection goes on
        assert channels(conn) == 0
        print("OK 1")
    else:
        got = []
        conn.add_notify_handler(lambda n: got.append((n.channel, n.payload)))
        conn.execute("LISTEN psy_chan")
        with psycopg.connect(host="127.0.0.1", port=DIRECT, user="postgres", password="postgres", dbname="app",
                             autocommit=True) as direct:
            direct.execute("NOTIFY psy_chan, 'hello'")
        deadline = time.monotonic() + 20
        while not got and time.monotonic() < deadline:
            conn.execute("select 1")  # notifications are read with the next reply
            time.sleep(0.05)
        assert got == [("psy_chan", "hello")], got
        # pool size 1: a second client gets a server only once this one says UNLISTEN *
        conn.execute("UNLISTEN *")
        with turnout() as other:
            assert channels(other) == 0
        print("OK 1")
