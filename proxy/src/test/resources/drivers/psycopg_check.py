"""psycopg 3 through Turnout with prepare_threshold=0: every query is prepared as a named statement."""
import os
import threading

import psycopg

PORT = int(os.environ["TURNOUT_PORT"])
errors = []
checks = []


def worker(n):
    try:
        with psycopg.connect(host="127.0.0.1", port=PORT, user="alice", password="alice_pw", dbname="app",
                             prepare_threshold=0, autocommit=(n % 2 == 0)) as conn:
            count = 0
            for i in range(40):
                with conn.cursor() as cur:
                    cur.execute("select %s::int * 3", (i,))
                    assert cur.fetchone()[0] == i * 3
                    cur.execute("select %s::text || ':' || %s::text", (str(n), str(i)))
                    assert cur.fetchone()[0] == f"{n}:{i}"
                    count += 2
                if not conn.autocommit:
                    conn.commit()
            checks.append(count)
    except Exception as e:  # reported below, fails the run
        errors.append(repr(e))


threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    raise SystemExit("FAILED " + "; ".join(errors[:3]))
print(f"OK {sum(checks)}")
