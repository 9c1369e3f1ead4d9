// node-postgres through Turnout: named queries are prepared once per connection as named statements.
const { Client } = require('pg');

async function worker(n) {
  const client = new Client({ host: '127.0.0.1', port: Number(process.env.TURNOUT_PORT), user: 'alice',
    password: 'alice_pw', database: 'app' });
  await client.connect();
  let checks = 0;
  for (let i = 0; i < 40; i++) {
    const a = await client.query({ name: 'add', text: 'select $1::int + $2::int as s', values: [i, n] });
    if (a.rows[0].s !== i + n) throw new Error(`add ${i}+${n} gave ${a.rows[0].s}`);
    const b = await client.query({ name: 'cat', text: "select $1::text || '/' || $2::text as t", values: [n, i] });
    if (b.rows[0].t !== `${n}/${i}`) throw new Error(`cat gave ${b.rows[0].t}`);
    checks += 2;
  }
  await client.end();
  return checks;
}

Promise.all(Array.from({ length: 20 }, (_, n) => worker(n)))
  .then((r) => console.log(`OK ${r.reduce((x, y) => x + y, 0)}`))
  .catch((e) => { console.error('FAILED', e); process.exit(1); });
