// The official socket.io-client 4.x when the node it is connected to drains (docs/operations.md,
// "Draining a node"): it must reconnect by itself, through the balancer, to another node, and with
// `auth.since` resume so that it misses and repeats nothing. Driven by tests/drain.rs, which runs
// a small balancer in front of two nodes and sends SIGTERM to the first. Inputs, as environment
// variables:
//   CONCIERGE_URL     the balancer's base URL
//   ADMIN_TOKEN       an admin (who receives every message as `new_message`)
//
// On stdout: `CONNECTED <json>` once both sockets are authenticated (their connection ids); then
// the driver drains the node and sends messages, and answers on stdin with `SENT <json>`: the ids
// of every message it sent since `CONNECTED`. The script then waits until each socket has every
// one exactly once and prints `PASS`; otherwise a `FAIL` line says what differed, exit code 1.
// Bounded by 60 s.

import { io } from "socket.io-client";
import assert from "node:assert/strict";
import readline from "node:readline";

const url = process.env.CONCIERGE_URL;
const token = process.env.ADMIN_TOKEN;

function log(line) {
  process.stdout.write(`${line}\n`);
}

const sockets = [];
function fail(err) {
  log(`FAIL ${(err?.stack ?? String(err)).replace(/\n/g, "\n     ")}`);
  for (const p of sockets) p.socket.close();
  process.exit(1);
}
setTimeout(() => fail(new Error("the test did not finish within 60 s")), 60_000);

/** A socket as a front end opens it, with `auth.since` kept at the largest `seq` it has seen. */
function peer(name, transports) {
  const socket = io(url, {
    forceNew: true,
    transports,
    auth: { token },
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  const p = { name, socket, ids: [], errors: [], disconnects: [], hellos: [], since: 0, trail: [] };
  socket.onAny((event, data) => {
    p.trail.push(`${event}:${data?.seq ?? ""}`);
    if (typeof data?.seq === "number" && data.seq > p.since) {
      p.since = data.seq;
      socket.auth.since = p.since;
    }
    if (event === "new_message") p.ids.push(data.message.id);
    if (event === "error") p.errors.push(data);
    if (event === "authenticated") p.hellos.push(data.connectionId);
  });
  socket.on("disconnect", (reason) => p.disconnects.push(reason));
  socket.on("connect_error", (e) => log(`${name}: connect_error ${e.message}`));
  sockets.push(p);
  return p;
}

async function until(what, ms, check) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lines = readline.createInterface({ input: process.stdin });
const sent = new Promise((resolve) =>
  lines.on("line", (line) => {
    if (line.startsWith("SENT ")) resolve(JSON.parse(line.slice(5)));
  }),
);

try {
  const peers = [peer("websocket", ["websocket"]), peer("polling then websocket", ["polling", "websocket"])];
  await until("both sockets authenticated", 10_000, () => peers.every((p) => p.hellos.length === 1));
  log(`CONNECTED ${JSON.stringify(peers.map((p) => p.hellos[0]))}`);
  const ids = await sent;
  for (const p of peers) {
    const missing = () => ids.filter((id) => !p.ids.includes(id));
    await until(`${p.name}: every message`, 20_000, () => missing().length === 0).catch((e) => {
      const seen = `disconnects ${JSON.stringify(p.disconnects)}, hellos ${JSON.stringify(p.hellos)}, since ${p.since}`;
      const at = missing().map((id) => ids.indexOf(id));
      throw new Error(`${e.message}; missing the sent messages ${JSON.stringify(at)} of ${ids.length}; ${seen}; events ${JSON.stringify(p.trail)}`);
    });
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const p of peers) {
    const what = `${p.name} (disconnects ${JSON.stringify(p.disconnects)}, errors ${JSON.stringify(p.errors)})`;
    assert.deepEqual(p.disconnects, ["transport close"], `${what}: one transport close`);
    assert.equal(p.errors.length, 1, `${what}: one error event`);
    assert.equal(p.errors[0].code, "unavailable", what);
    assert.equal(p.errors[0].message, "server is draining: reconnect", what);
    assert.equal(p.hellos.length, 2, `${what}: reconnected once by itself`);
    const node = (id) => id.slice(0, id.lastIndexOf("-"));
    assert.notEqual(node(p.hellos[1]), node(p.hellos[0]), `${what}: to another node`);
    assert.deepEqual([...p.ids].sort(), [...ids].sort(), `${what}: every message exactly once`);
  }
  log("PASS");
  for (const p of peers) p.socket.close();
  process.exit(0);
} catch (e) {
  fail(e);
}
