// A WebSocket client of Troupe's data door built on the `ws` package, for
// integration/messaging_npm_test.go.
//
//   node client.mjs <ws-url> <room> <topic-pattern> <queue> [api-key]
//
// It subscribes to the room (from offset 0), to the topic pattern and to
// the queue, then prints one JSON line per thing that happens:
//   {"ready": [replies]}                 the three subscribe replies
//   {"push": frame}                      every event, message and queue_message
//   {"acked": message_id, "reply": r}    the reply to the queue.ack it sends
//                                        for each queue_message
//   {"closed": code, "reason": r}        the connection ended
// It closes the connection (status 1000) when its stdin ends.
import WebSocket from 'ws';

const [url, room, pattern, queue, apiKey] = process.argv.slice(2);
if (!url || !room || !pattern || !queue) {
  console.error('usage: node client.mjs <ws-url> <room> <topic-pattern> <queue> [api-key]');
  process.exit(2);
}

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const ws = new WebSocket(url, apiKey ? { headers: { 'X-API-Key': apiKey } } : {});
const pending = new Map();
let seq = 0;

function call(command, payload) {
  const id = `node-${++seq}`;
  ws.send(JSON.stringify({ request_id: id, command, payload }));
  return new Promise((resolve) => pending.set(id, resolve));
}

ws.on('open', async () => {
  const replies = await Promise.all([
    call('stream.subscribe', { room, from_offset: 0 }),
    call('pubsub.subscribe', { topics: [pattern] }),
    call('queue.subscribe', { queue, ack_deadline: 60 }),
  ]);
  out({ ready: replies });
});

ws.on('message', async (data, isBinary) => {
  if (isBinary) {
    out({ error: 'binary frame' });
    return;
  }
  const frame = JSON.parse(data.toString());
  if (frame.type === 'response' || frame.type === 'batch_response') {
    const resolve = pending.get(frame.request_id);
    pending.delete(frame.request_id);
    if (resolve) resolve(frame);
    else out({ unexpected: frame });
    return;
  }
  out({ push: frame });
  if (frame.type === 'queue_message') {
    const reply = await call('queue.ack', { queue: frame.queue, message_id: frame.message_id });
    out({ acked: frame.message_id, reply });
  }
});

ws.on('close', (code, reason) => {
  out({ closed: code, reason: reason.toString() });
  process.exit(0);
});

ws.on('error', (err) => {
  out({ error: String(err) });
  process.exit(1);
});

process.stdin.on('end', () => ws.close(1000, 'done'));
process.stdin.resume();
