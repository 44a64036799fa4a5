// Drives a Skip service with the real clients, unchanged: SkipServiceBroker
// of @skipruntime/helpers for the control API and the npm eventsource
// package for the stream. Run by integration/skip_npm_test.go against the
// sum service (testdata/skip/sum.mjs):
//
//   node client.mjs <host> <control_port> <streaming_port>
//
// It prints one JSON line per step; the test checks them.
import { SkipServiceBroker } from "@skipruntime/helpers";
import { EventSource } from "eventsource";

const [host, control, streaming] = process.argv.slice(2);
const broker = new SkipServiceBroker(
  { host, control_port: Number(control), streaming_port: Number(streaming) },
  10000,
);
const out = (step, value) => console.log(JSON.stringify({ step, value }));

await broker.update("input", [["a", [1, 2]], ["b", [3]]]);
out("getAll", await broker.getAll("doubled", {}));
out("getArray", await broker.getArray("doubled", {}, "a"));
out("getUnique", await broker.getUnique("sum", {}, "total"));
out("absent", await broker.getArray("doubled", {}, "zz"));
try {
  await broker.getUnique("doubled", {}, "a");
  out("nonUnique", "no error");
} catch (e) {
  out("nonUnique", e.constructor.name);
}
try {
  await broker.getAll("nope", {});
  out("unknown", "no error");
} catch (e) {
  out("unknown", e.message);
}

const uuid = await broker.getStreamUUID("doubled", {});
out("uuid", uuid);
const es = new EventSource(`http://${host}:${streaming}/v1/streams/${uuid}`);
const events = [];
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no events in 30s: " + JSON.stringify(events))), 30000);
  const step = async () => {
    try {
      if (events.length === 1) await broker.update("input", [["c", [5]]]);
      if (events.length === 2) await broker.deleteKey("input", "a");
      if (events.length === 3) {
        clearTimeout(timer);
        resolve();
      }
    } catch (e) {
      reject(e);
    }
  };
  es.addEventListener("init", (e) => {
    events.push({ type: "init", id: e.lastEventId, data: JSON.parse(e.data) });
    step();
  });
  es.addEventListener("update", (e) => {
    const data = JSON.parse(e.data);
    if (data.length === 0) return; // heartbeat
    events.push({ type: "update", id: e.lastEventId, data });
    step();
  });
  es.onerror = (e) => {
    if (events.length < 3) reject(new Error("eventsource error: " + (e.message ?? e.type)));
  };
});
es.close();
out("events", events);
await broker.deleteUUID(uuid);
out("deleted", true);
