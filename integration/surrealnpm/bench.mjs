// troupe-bench --views-http's peer: the same records and ingests applied
// to an embedded SurrealDB 3 (in memory) with LIVE SELECT queries standing
// for the views. LIVE SELECT takes no ORDER BY, LIMIT or GROUP BY, so those
// views are their WHERE clauses. Usage: node bench.mjs records views
// ingests; prints {"p50","p99","max"} in microseconds per ingest (UPSERT,
// one at a time) and the notifications received.
import { Surreal, createRemoteEngines } from "surrealdb";
import { createNodeEngines } from "@surrealdb/node";

const [records, views, ingests] = process.argv.slice(2).map(Number);
const db = new Surreal({ engines: { ...createRemoteEngines(), ...createNodeEngines() } });
await db.connect("mem://");
await db.use({ namespace: "bench", database: "bench" });
await db.query("DEFINE TABLE product SCHEMALESS; DEFINE TABLE user SCHEMALESS;");

let seed = 12345;
const rnd = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};
const product = () =>
  `{ price: ${rnd(1000)}, category: 'c${rnd(50)}', owner: user:${rnd(1000)}, status: 'open' }`;

for (let i = 0; i < 1000; i += 500) {
  const rows = [];
  for (let j = i; j < i + 500; j++) rows.push(`{ id: user:${j}, name: 'u${j}' }`);
  await db.query(`INSERT INTO user [${rows.join(",")}]`);
}
for (let i = 0; i < records; i += 1000) {
  const rows = [];
  for (let j = i; j < Math.min(records, i + 1000); j++) rows.push(product().replace("{", `{ id: product:${j},`));
  await db.query(`INSERT INTO product [${rows.join(",")}]`);
}

let notified = 0;
for (let i = 0; i < views; i++) {
  let q;
  switch (i % 5) {
    case 0:
    case 3:
      q = `LIVE SELECT * FROM product WHERE owner = user:${rnd(1000)}`;
      break;
    case 1: {
      const lo = rnd(990);
      q = `LIVE SELECT * FROM product WHERE price > ${lo} AND price < ${lo + 3}`;
      break;
    }
    case 2:
      q = `LIVE SELECT * FROM product WHERE category = 'c${rnd(50)}'`;
      break;
    case 4:
      q = `LIVE SELECT * FROM product WHERE price > ${990 + rnd(10)}`;
      break;
  }
  const [id] = await db.query(q);
  const sub = await db.liveOf(id);
  sub.subscribe(() => {
    notified++;
  });
}

const lat = [];
for (let i = 0; i < ingests; i++) {
  const q = `UPSERT product:${rnd(records)} CONTENT ${product()}`;
  const t0 = performance.now();
  await db.query(q);
  lat.push((performance.now() - t0) * 1000);
}
lat.sort((a, b) => a - b);
const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
process.stdout.write(JSON.stringify({ p50: pct(0.5), p99: pct(0.99), max: lat[lat.length - 1], notified }) + "\n");
await db.close();
process.exit(0);
