// End-to-end test of Concierge's Socket.IO endpoint (shared/spec/SOCKETIO.md) with the official
// socket.io-client 4.x, used exactly as the booking platform's front ends use it:
//
//   const socket = io(url, { auth: { token } });
//   socket.on("new_message", (data) => { … });
//   socket.emit("join_conversation", { conversationId }, (res) => { … });
//
// Driven by tests/socketio_js.rs, which starts the server and prepares the booking. Inputs, as
// environment variables or as positional arguments in this order:
//   CONCIERGE_URL     the server's base URL (http://127.0.0.1:3000)
//   CUSTOMER_TOKEN    a customer who owns the conversation's booking
//   ADMIN_TOKEN       an admin
//   SERVICE_TOKEN     a service token (must be refused with "forbidden")
//   CONVERSATION_ID   the booking's conversation
//
// The restart protocol, on stdin and stdout: the script prints the line `RESTART` and waits for a
// line `RESTARTED <json>`. Meanwhile the driver kills the server, sends messages as the customer
// through a second node sharing the log (so they are written while both sockets are disconnected),
// starts the server again on the same port, and answers with `{"missed": [Message, …]}`: the
// messages it sent, in order. Socket.IO's own reconnection then brings both sockets back with
// `socket.auth.since` set to the largest `data.seq` each has seen, and each must receive every
// missed message exactly once, in order, then `resume_complete`. Set SKIP_RESTART=1 to leave that
// part out (for a manual run against a server started by hand).
//
// Every other stdout line is progress. Exit 0 when everything held; otherwise a `FAIL` line says
// what differed, and the exit code is 1. The whole run is bounded by 60 s.

import { io } from "socket.io-client";
import assert from "node:assert/strict";
import readline from "node:readline";

const OVERALL_MS = 60_000;
const STEP_MS = 10_000;
const RESUME_MS = 30_000;

const [argUrl, argCustomer, argAdmin, argService, argConversation] = process.argv.slice(2);
const url = argUrl ?? process.env.CONCIERGE_URL;
const customerToken = argCustomer ?? process.env.CUSTOMER_TOKEN;
const adminToken = argAdmin ?? process.env.ADMIN_TOKEN;
const serviceToken = argService ?? process.env.SERVICE_TOKEN;
const conversationId = argConversation ?? process.env.CONVERSATION_ID;
const skipRestart = process.env.SKIP_RESTART === "1";

const sockets = [];

function log(line) {
  process.stdout.write(`${line}\n`);
}

function fail(err) {
  const plain = err instanceof assert.AssertionError || err instanceof Timeout;
  const detail = plain ? err.message : err?.stack ?? String(err);
  log(`FAIL ${detail.replace(/\n/g, "\n     ")}`);
  for (const s of sockets) s.close();
  process.exit(1);
}

const overall = setTimeout(
  () => fail(new Error(`the test did not finish within ${OVERALL_MS / 1000} s`)),
  OVERALL_MS,
);

/** The claims of a JWT, to compare with what the server says the user is. */
function claims(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

class Timeout extends Error {}

/** `promise`, or a rejection with a Timeout naming `what` after `ms`. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * One client socket and everything it received, in arrival order. Waiting for an event looks
 * through what was recorded from a given index on, so nothing that arrived early is missed.
 */
class Peer {
  constructor(name, socket) {
    this.name = name;
    this.socket = socket;
    this.events = [];
    this.transportAt = [];
    this.waiters = [];
    this.maxSeq = 0;
    this.disconnects = 0;
    this.reconnects = 0;
    sockets.push(socket);
    socket.onAny((event, data) => this.record(event, data));
    socket.on("connect", () => this.record("connect", null));
    socket.on("connect_error", (err) => this.record("connect_error", err));
    socket.on("disconnect", (reason) => {
      this.disconnects += 1;
      // What a front end does: resume from the largest seq it has seen.
      this.since = this.maxSeq;
      if (socket.auth) socket.auth.since = this.since;
      this.record("disconnect", reason);
    });
    socket.io.on("reconnect", () => {
      this.reconnects += 1;
    });
  }

  record(event, data) {
    if (typeof data?.seq === "number" && data.seq > this.maxSeq) this.maxSeq = data.seq;
    const index = this.events.length;
    this.events.push({ event, data });
    this.transportAt.push(this.socket.io.engine?.transport?.name);
    this.waiters = this.waiters.filter((w) => {
      if (index >= w.from && event === w.event && w.pred(data)) {
        w.resolve({ index, data });
        return false;
      }
      return true;
    });
  }

  /** The first `event` at or after index `from` whose data satisfies `pred`: `{index, data}`. */
  wait(event, { from = 0, pred = () => true, ms = STEP_MS } = {}) {
    for (let index = from; index < this.events.length; index++) {
      const e = this.events[index];
      if (e.event === event && pred(e.data)) return Promise.resolve({ index, data: e.data });
    }
    const found = new Promise((resolve) => this.waiters.push({ event, from, pred, resolve }));
    return within(ms, `${this.name} waiting for ${event}; received: ${this.summary(from)}`, found);
  }

  /** The recorded events from `from` on, short, for failure messages. */
  summary(from = 0) {
    return JSON.stringify(
      this.events.slice(from).map((e) => [e.event, e.data?.seq ?? e.data?.message ?? e.data]),
    );
  }

  /** Emits with an ack callback, as the front ends do, and resolves with the ack's argument. */
  ack(event, data, ms = STEP_MS) {
    const answered = new Promise((resolve) => this.socket.emit(event, data, (res) => resolve(res)));
    return within(ms, `${this.name}: no ack for ${event}`, answered);
  }
}

/** Asserts the success shape of an ack: `{success: true, message, data}`; returns `data`. */
function okAck(what, res) {
  assert.equal(res?.success, true, `${what}: not a success ack: ${JSON.stringify(res)}`);
  assert.equal(typeof res.message, "string", `${what}: ack without message: ${JSON.stringify(res)}`);
  assert.equal(typeof res.data, "object", `${what}: ack without data: ${JSON.stringify(res)}`);
  return res.data;
}

/** Connects with `opts`, expects a refusal, and returns the connect_error. */
async function refused(what, opts) {
  const socket = io(url, { forceNew: true, reconnection: false, ...opts });
  sockets.push(socket);
  const err = await within(
    STEP_MS,
    `${what}: no connect_error`,
    new Promise((resolve, reject) => {
      socket.on("connect_error", resolve);
      socket.on("connect", () => reject(new assert.AssertionError({ message: `${what}: connected` })));
    }),
  );
  socket.close();
  return err;
}

/** Connects with `opts` and returns the peer once `authenticated` has come, checked. */
async function authenticated(name, token, opts) {
  const peer = new Peer(name, io(url, opts));
  const { index, data } = await peer.wait("authenticated");
  assert.equal(index, 1, `${name}: authenticated is not the first event: ${peer.summary()}`);
  assert.equal(peer.events[0].event, "connect", `${name}: ${peer.summary()}`);
  assert.equal(data.userId, claims(token).sub, `${name}: authenticated.userId`);
  assert.equal(data.role, claims(token).role, `${name}: authenticated.role`);
  assert.equal(typeof data.connectionId, "string", `${name}: authenticated.connectionId`);
  assert.ok(data.connectionId.length > 0, `${name}: empty connectionId`);
  return peer;
}

/** Asserts `seqs` strictly increase. */
function increasing(what, seqs) {
  for (let i = 1; i < seqs.length; i++) {
    assert.ok(seqs[i] > seqs[i - 1], `${what}: seq ${seqs[i]} after ${seqs[i - 1]} in ${JSON.stringify(seqs)}`);
  }
}

/** Lines on stdin, one promise at a time. */
function stdinLines() {
  const rl = readline.createInterface({ input: process.stdin });
  const lines = [];
  const waiting = [];
  let closed = false;
  rl.on("line", (line) => (waiting.length ? waiting.shift().resolve(line) : lines.push(line)));
  rl.on("close", () => {
    closed = true;
    for (const w of waiting.splice(0)) w.reject(new Error("stdin closed before RESTARTED"));
  });
  return () =>
    lines.length
      ? Promise.resolve(lines.shift())
      : closed
        ? Promise.reject(new Error("stdin closed before RESTARTED"))
        : new Promise((resolve, reject) => waiting.push({ resolve, reject }));
}

async function main() {
  const missing = Object.entries({ url, customerToken, adminToken, serviceToken, conversationId })
    .filter(([, v]) => !v)
    .map(([k]) => k);
  assert.deepEqual(missing, [], "missing inputs (see the head of e2e.mjs)");
  const customerId = claims(customerToken).sub;
  const adminId = claims(adminToken).sub;

  // Refusals at the handshake, over each transport.
  let err = await refused("a bad token", { auth: { token: "not-a-jwt" } });
  assert.equal(err.message, "unauthorized", "a bad token: connect_error message");
  assert.equal(err.data?.code, "unauthorized", `a bad token: err.data ${JSON.stringify(err.data)}`);
  assert.equal(typeof err.data?.message, "string", `a bad token: err.data ${JSON.stringify(err.data)}`);
  err = await refused("a service token", { auth: { token: serviceToken }, transports: ["websocket"] });
  assert.equal(err.message, "forbidden", "a service token: connect_error message");
  assert.equal(err.data?.code, "forbidden", `a service token: err.data ${JSON.stringify(err.data)}`);
  log("ok refused: a bad token (unauthorized), a service token (forbidden)");

  // The other places a token may come from.
  for (const [how, opts] of [
    ["query token over WebSocket", { query: { token: adminToken }, transports: ["websocket"] }],
    ["Authorization header over polling", { extraHeaders: { Authorization: `Bearer ${adminToken}` }, transports: ["polling"] }],
  ]) {
    const peer = await authenticated(how, adminToken, { forceNew: true, reconnection: false, ...opts });
    peer.socket.close();
  }
  log("ok authenticated by ?token= and by the Authorization header");

  // The front end's code, unchanged: default transports, polling first, then the upgrade.
  const customer = await authenticated("customer", customerToken, {
    auth: { token: customerToken },
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  const upgraded = new Promise((resolve) =>
    customer.socket.io.engine.transport.name === "websocket"
      ? resolve()
      : customer.socket.io.engine.once("upgrade", resolve),
  );
  const admin = await authenticated("admin", adminToken, {
    forceNew: true,
    auth: { token: adminToken },
    transports: ["websocket"],
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  log(`ok connected: customer ${customerId} (polling, then upgrade), admin ${adminId} (websocket)`);

  for (const peer of [customer, admin]) {
    const data = okAck(`${peer.name} join_conversation`, await peer.ack("join_conversation", { conversationId }));
    assert.equal(data.conversation?.id, conversationId, `${peer.name} join_conversation: data.conversation.id`);
  }
  const refusedJoin = await customer.ack("join_conversation", { conversationId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" });
  assert.equal(refusedJoin?.success, false, `join of an unknown conversation: ${JSON.stringify(refusedJoin)}`);
  assert.equal(refusedJoin.error, "not_found", `join of an unknown conversation: ${JSON.stringify(refusedJoin)}`);
  assert.equal(typeof refusedJoin.message, "string", `join of an unknown conversation: ${JSON.stringify(refusedJoin)}`);
  log("ok both joined; an unknown conversation is refused with not_found");

  let from = customer.events.length;
  admin.socket.emit("typing_start", { conversationId });
  let typing = await customer.wait("user_typing", { from });
  assert.deepEqual(typing.data, { conversationId, userId: adminId, isTyping: true }, "user_typing (start)");
  from = customer.events.length;
  admin.socket.emit("typing_stop", conversationId);
  typing = await customer.wait("user_typing", { from });
  assert.deepEqual(typing.data, { conversationId, userId: adminId, isTyping: false }, "user_typing (stop, bare id)");
  log("ok typing_start / typing_stop reach the customer as user_typing");

  const adminFrom = admin.events.length;
  admin.socket.emit("no_such_event", {});
  const unknown = await admin.wait("error", { from: adminFrom });
  assert.equal(unknown.data?.event, "no_such_event", `error for an unknown event: ${JSON.stringify(unknown.data)}`);
  assert.equal(unknown.data?.code, "validation_failed", `error for an unknown event: ${JSON.stringify(unknown.data)}`);
  assert.ok(admin.socket.connected, "the admin was disconnected after an unknown event");
  log("ok an unknown event without ack gets an error event; the socket stays open");

  // A message, from the customer's socket to the admin's.
  const content = "Can I check in early? (socket.io-client)";
  const clientMessageId = `e2e-${Date.now()}`;
  const sent = okAck(
    "send_message",
    await customer.ack("send_message", { conversationId, content, clientMessageId }),
  ).message;
  assert.equal(sent?.content, content, "send_message ack: data.message.content");
  assert.equal(sent.sender, customerId, "send_message ack: data.message.sender");
  assert.equal(sent.conversationId, conversationId, "send_message ack: data.message.conversationId");
  assert.equal(typeof sent.seq, "number", "send_message ack: data.message.seq");
  const got = (await admin.wait("new_message", { pred: (d) => d?.message?.id === sent.id })).data;
  assert.equal(typeof got.seq, "number", `new_message without a numeric data.seq: ${JSON.stringify(got)}`);
  assert.equal(got.seq, sent.seq, "new_message: data.seq is the message's seq");
  assert.equal(got.conversationId, conversationId, "new_message: data.conversationId");
  assert.equal(got.message.content, content, "new_message: data.message.content");
  const mine = (await customer.wait("message_sent", { pred: (d) => d?.message?.id === sent.id })).data;
  assert.equal(mine.clientMessageId, clientMessageId, "message_sent: data.clientMessageId");
  assert.equal(mine.conversationId, conversationId, "message_sent: data.conversationId");
  assert.equal(mine.seq, sent.seq, "message_sent: data.seq");
  log(`ok send_message acked (seq ${sent.seq}); the admin got new_message, the customer message_sent`);

  await within(STEP_MS, "the customer's transport did not upgrade to WebSocket", upgraded);
  log("ok the customer's transport upgraded from polling to websocket");

  let missed = [];
  const restartFrom = new Map([customer, admin].map((p) => [p, p.events.length]));
  if (!skipRestart) {
    const nextLine = stdinLines();
    log(`RESTART`);
    const line = await within(RESUME_MS, "no RESTARTED line on stdin", nextLine());
    assert.ok(line.startsWith("RESTARTED"), `expected RESTARTED on stdin, read ${JSON.stringify(line)}`);
    missed = JSON.parse(line.slice("RESTARTED".length).trim() || "{}").missed ?? [];
    assert.ok(missed.length > 0, "the driver sent no messages while the server was down");
    for (const peer of [customer, admin]) {
      await peer.wait("disconnect", { from: restartFrom.get(peer) });
      const since = peer.since;
      assert.ok(since >= sent.seq, `${peer.name}: the largest seq seen, ${since}, is below ${sent.seq}`);
      const { index: end, data: done } = await peer.wait("resume_complete", { from: restartFrom.get(peer), ms: RESUME_MS });
      peer.replayedOver = peer.transportAt[end];
      const after = peer.events.slice(restartFrom.get(peer), end + 1);
      const what = `${peer.name} after the restart (since ${since})`;
      assert.ok(peer.reconnects >= 1, `${what}: Socket.IO's reconnection did not run`);
      assert.equal(peer.socket.auth.since, since, `${what}: socket.auth.since`);
      // From the last reconnect on: authenticated first, then the replay, then resume_complete.
      const connected = after.map((e) => e.event).lastIndexOf("connect");
      assert.ok(connected >= 0, `${what}: no connect: ${peer.summary(restartFrom.get(peer))}`);
      const replay = after.slice(connected + 1);
      assert.equal(replay[0]?.event, "authenticated", `${what}: the first event: ${peer.summary(restartFrom.get(peer))}`);
      for (const e of replay) {
        if (typeof e.data?.seq === "number") {
          assert.ok(e.data.seq > since, `${what}: ${e.event} with seq ${e.data.seq} repeated`);
        }
      }
      const expected = peer === admin ? "new_message" : "message_sent";
      const messages = replay.filter((e) => e.event === expected).map((e) => e.data);
      assert.deepEqual(
        messages.map((d) => [d.message.id, d.seq, d.message.content]),
        missed.map((m) => [m.id, m.seq, m.content]),
        `${what}: the ${expected} events replayed (id, seq, content) vs the messages sent meanwhile`,
      );
      assert.deepEqual(
        replay.filter((e) => e.event === "new_message" && e.data.message.sender === claims(peer.socket.auth.token).sub),
        [],
        `${what}: own messages replayed as new_message`,
      );
      assert.equal(typeof done.upTo, "number", `${what}: resume_complete.upTo ${JSON.stringify(done)}`);
      assert.ok(done.upTo >= missed.at(-1).seq, `${what}: resume_complete.upTo ${done.upTo} < ${missed.at(-1).seq}`);
    }
    log(
      `ok after the restart both sockets reconnected and got the ${missed.length} missed messages, then ` +
        `resume_complete (the customer over ${customer.replayedOver}, the admin over ${admin.replayedOver})`,
    );

    // Live again: the customer rejoins, as a front end does on "connect", and sends.
    okAck("join_conversation after the restart", await customer.ack("join_conversation", { conversationId }));
    const again = okAck(
      "send_message after the restart",
      await customer.ack("send_message", { conversationId, content: "back again", clientMessageId: `${clientMessageId}-2` }),
    ).message;
    assert.ok(again.seq > missed.at(-1).seq, `the message after the restart has seq ${again.seq}`);
    await admin.wait("new_message", { pred: (d) => d?.message?.id === again.id });
    await customer.wait("message_sent", { pred: (d) => d?.message?.id === again.id });
    log(`ok live after the resume (seq ${again.seq})`);
  }

  // Over the whole run: each message at most once per socket, in seq order, and never
  // the customer's own as new_message.
  for (const [peer, own, other] of [
    [admin, "new_message", "message_sent"],
    [customer, "message_sent", "new_message"],
  ]) {
    const received = peer.events.filter((e) => e.event === own).map((e) => e.data);
    const ids = received.map((d) => d.message.id);
    assert.equal(new Set(ids).size, ids.length, `${peer.name}: a message received twice: ${JSON.stringify(ids)}`);
    increasing(`${peer.name}'s ${own} events`, received.map((d) => d.seq));
    const wrong = peer.events.filter((e) => e.event === other && e.data?.message?.sender === (peer === admin ? adminId : customerId));
    assert.deepEqual(wrong, [], `${peer.name}: its own messages as ${other}`);
  }
  log("ok no message twice, every socket's messages in seq order");

  for (const s of sockets) s.close();
  clearTimeout(overall);
  log("PASS");
  process.exit(0);
}

main().catch(fail);
