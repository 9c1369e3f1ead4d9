"""asyncpg through Turnout: its default statement cache prepares every query as a named statement."""
import asyncio
import os
import sys

import asyncpg


async def worker(pool, n):
    checks = 0
    async with pool.acquire() as conn:
        stmt = await conn.prepare("select $1::int + $2::int as s")
        for i in range(40):
            assert await conn.fetchval("select $1::int * 2", i) == i * 2
            assert await stmt.fetchval(i, n) == i + n
            async with conn.transaction():
                row = await conn.fetchrow("select $1::text || '-' || $2::text as t", str(n), str(i))
                assert row["t"] == f"{n}-{i}"
            checks += 3
    return checks


async def main():
    pool = await asyncpg.create_pool(host="127.0.0.1", port=int(os.environ["TURNOUT_PORT"]), user="alice",
                                     password="alice_pw", database="app", min_size=20, max_size=20)
    results = await asyncio.gather(*(worker(pool, n) for n in range(20)))
    await pool.close()
    print(f"OK {sum(results)}")


asyncio.run(main())
sys.exit(0)
