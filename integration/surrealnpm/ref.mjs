// An embedded SurrealDB 3 (in memory) answering SurrealQL over stdin and
// stdout, one JSON object a line each way: {"id", "q"} in, {"id", "result"}
// (the last statement's result) or {"id", "error"} out. Record ids come out
// in SurrealDB's text form, integers as numbers. Used by Troupe's tests.
import { createInterface } from "node:readline";
import { Surreal, createRemoteEngines } from "surrealdb";
import { createNodeEngines } from "@surrealdb/node";

const db = new Surreal({ engines: { ...createRemoteEngines(), ...createNodeEngines() } });
await db.connect("mem://");
await db.use({ namespace: "troupe", database: "troupe" });

const replacer = (_k, v) => (typeof v === "bigint" ? Number(v) : v);
const out = (obj) => process.stdout.write(JSON.stringify(obj, replacer) + "\n");
out({ ready: true });

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  const { id, q } = JSON.parse(line);
  try {
    const res = await db.query(q);
    out({ id, result: res.at(-1) ?? null });
  } catch (e) {
    out({ id, error: String(e && e.message ? e.message : e) });
  }
}
await db.close();
