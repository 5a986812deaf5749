// The browser suite's harness: a disposable nats-server, Concierge nodes on it, tokens, HTTP helpers
// for seeding, headless Chromium (Debian's, driven by playwright-core), a screenshot of every open page
// when a test fails, and teardown of every process and temp dir even when a test fails.
//
// Environment:
//   CONCIERGE_BIN  the built `concierge` binary (default: ../target/debug/concierge from ui/)
//   NATS_SERVER    nats-server (default: /usr/sbin/nats-server when present, else `nats-server` on PATH)
//   CHROMIUM       the browser (default: /usr/bin/chromium)
//   E2E_HEADED=1   show the browser (debugging by hand)

import { spawn, spawnSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");

export const CONCIERGE_BIN = process.env.CONCIERGE_BIN || path.join(REPO, "target", "debug", "concierge");
export const NATS_SERVER =
  process.env.NATS_SERVER || (existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const ARTIFACTS = path.join(HERE, "artifacts");

/** The secret every node of the suite signs and checks tokens with. */
export const JWT_SECRET = "e2e-test-secret-0123456789abcdef0123456789abcdef";

/** Display names the plan's texts use ("Ann is typing…", "Seen by Bo"). */
export const CUSTOMER_NAME = "Ann";
export const ADMIN_NAME = "Bo";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // A fake microphone (a beep) that needs no permission prompt, for the voice-message test; it changes
  // nothing for pages that never ask for a microphone.
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
];

// ---------------------------------------------------------------------------------------------
// Cleanup: everything started here is registered, and killed/removed at the latest when the process
// exits (a failed or interrupted test file leaves nothing behind).

const children = new Set();
const tempDirs = new Set();

function killAllSync() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}
process.on("exit", killAllSync);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, () => {
    killAllSync();
    process.exit(130);
  });
}

export function tempDir(prefix = "concierge-e2e-") {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

// ---------------------------------------------------------------------------------------------
// Small utilities

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let counter = 0;
/** A unique id with a readable prefix: booking ids, user ids, message texts. */
export function uniq(prefix) {
  counter += 1;
  return `${prefix}_${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}${counter}`;
}

/** A free TCP port on 127.0.0.1 (bound and released; good enough for a test machine). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

function tail(file, chars = 4000) {
  try {
    const text = readFileSync(file, "utf8");
    return text.slice(-chars);
  } catch {
    return "(no log)";
  }
}

/**
 * Retries `fn` (which throws, e.g. an assert) until it passes; rethrows its last error after `timeout`.
 * Returns what `fn` returned.
 */
export async function eventually(fn, { timeout = 10_000, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    await sleep(interval);
  }
}

function spawnLogged(cmd, args, { env, log }) {
  const fd = openSync(log, "a");
  const child = spawn(cmd, args, { env, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      try {
        writeFileSync(log, `--- ${path.basename(cmd)} (pid ${child.pid}) exited: code ${code}, signal ${signal}, ${new Date().toISOString()}\n`, { flag: "a" });
      } catch {
        // the temp dir is gone already
      }
      resolve({ code, signal });
    });
    child.once("error", (err) => {
      children.delete(child);
      resolve({ code: null, signal: null, error: err });
    });
  });
  return child;
}

async function killChild(child, signal = "SIGKILL") {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  await child.exited;
}

// ---------------------------------------------------------------------------------------------
// nats-server

export class Nats {
  static async start() {
    const nats = new Nats();
    nats.dir = tempDir("concierge-e2e-nats-");
    nats.port = await freePort();
    nats.url = `nats://127.0.0.1:${nats.port}`;
    nats.log = path.join(nats.dir, "nats.log");
    nats.child = spawnLogged(
      NATS_SERVER,
      ["-js", "-a", "127.0.0.1", "-p", String(nats.port), "-sd", path.join(nats.dir, "store")],
      { env: process.env, log: nats.log },
    );
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (nats.child.exitCode !== null || nats.child.signalCode !== null) {
        throw new Error(`nats-server (${NATS_SERVER}) exited before accepting connections:\n${tail(nats.log)}`);
      }
      if (await canConnect(nats.port)) break;
      if (Date.now() > deadline) {
        throw new Error(`nats-server did not accept connections on ${nats.port} within 15 s:\n${tail(nats.log)}`);
      }
      await sleep(50);
    }
    return nats;
  }

  async stop() {
    await killChild(this.child, "SIGKILL");
    removeDir(this.dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Concierge nodes

export class Node {
  /**
   * @param {Nats} nats
   * @param {{label?: string, clientUrl?: string, env?: Record<string,string>}} opts
   */
  static async start(nats, opts = {}) {
    const node = new Node();
    node.label = opts.label ?? "node";
    node.nats = nats;
    node.opts = opts;
    node.dir = tempDir(`concierge-e2e-${node.label}-`);
    node.dataDir = path.join(node.dir, "data");
    node.log = path.join(node.dir, "concierge.log");
    node.port = await freePort();
    node.base = `http://127.0.0.1:${node.port}`;
    await node.spawnAndWait();
    return node;
  }

  spawn() {
    const env = {
      ...process.env,
      JWT_SECRET,
      PORT: String(this.port),
      HOST: "127.0.0.1",
      DATA_DIR: this.dataDir,
      NATS_URL: this.nats.url,
      SEND_RATE_LIMIT: "0",
      AUTH_FAILURE_LIMIT: "0",
      RUST_LOG: process.env.E2E_RUST_LOG || "info",
      ...(this.opts.clientUrl ? { CLIENT_URL: this.opts.clientUrl } : {}),
      ...(this.opts.env ?? {}),
    };
    writeFileSync(this.log, `--- start ${new Date().toISOString()}\n`, { flag: "a" });
    this.child = spawnLogged(CONCIERGE_BIN, ["serve", "--dev"], { env, log: this.log });
  }

  async spawnAndWait() {
    this.spawn();
    await this.waitReady();
  }

  /** Polls GET /ready until it answers 200 (20 s), failing early when the process exits. */
  async waitReady(timeout = 20_000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(
          `concierge (${this.label}) exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) before it was ready:\n${tail(this.log)}`,
        );
      }
      try {
        const res = await fetch(`${this.base}/ready`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`concierge (${this.label}) was not ready within ${timeout} ms:\n${tail(this.log)}`);
      }
      await sleep(50);
    }
  }

  /** kill -9, as a crash would. */
  async kill9() {
    await killChild(this.child, "SIGKILL");
  }

  /** Starts the node again on the same port and data dir, and waits for /ready. */
  async restart() {
    await killChild(this.child, "SIGKILL");
    await this.spawnAndWait();
  }

  async stop() {
    await killChild(this.child, "SIGKILL");
    removeDir(this.dir);
  }

  url(p) {
    return `${this.base}${p}`;
  }

  /** /chat for a booking, the token in the fragment. */
  chatUrl(booking, token, extraQuery = "") {
    return `${this.base}/chat?booking=${encodeURIComponent(booking)}${extraQuery}#token=${token}`;
  }

  inboxUrl(token) {
    return `${this.base}/inbox#token=${token}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Tokens

/** `concierge token …` with the suite's secret. */
export function mintToken({ sub, role, name, bookings, ttl } = {}) {
  const args = ["token", "--sub", sub, "--role", role];
  if (name !== undefined) args.push("--name", name);
  if (bookings !== undefined && bookings.length) args.push("--bookings", bookings.join(","));
  if (ttl !== undefined) args.push("--ttl", String(ttl));
  const out = spawnSync(CONCIERGE_BIN, args, {
    env: { ...process.env, JWT_SECRET },
    encoding: "utf8",
  });
  if (out.status !== 0) {
    throw new Error(`concierge token failed (${out.status}): ${out.stderr}`);
  }
  const token = out.stdout.trim();
  if (token.split(".").length !== 3) throw new Error(`concierge token printed no JWT: ${out.stdout}`);
  return token;
}

/** An HS256 JWT signed here, for tokens the CLI will not make (expired, wrong secret). */
export function signJwt(claims, secret = JWT_SECRET) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  const sig = createHmac("sha256", secret).update(head).digest("base64url");
  return `${head}.${sig}`;
}

export const serviceToken = () => mintToken({ sub: "svc_booking_platform", role: "service" });
export const adminToken = (sub = "adm_bo", name = ADMIN_NAME) => mintToken({ sub, role: "admin", name });
export const customerToken = (sub, bookings, name = CUSTOMER_NAME) =>
  mintToken({ sub, role: "customer", name, bookings });

// ---------------------------------------------------------------------------------------------
// HTTP (API.md)

/** One API call; returns {status, body} (body parsed as JSON when it is). */
export async function api(node, method, p, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    h["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(node.url(p), { method, headers: h, body: payload, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

function expectStatus(res, statuses, what) {
  if (!statuses.includes(res.status)) {
    throw new Error(`${what}: expected ${statuses.join(" or ")}, got ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return res.body.data;
}

/** Route 12 with a service token. */
export async function registerBooking(node, bookingId, customerId, title) {
  const body = { customerId };
  if (title !== undefined) body.title = title;
  const res = await api(node, "PUT", `/messaging/bookings/${encodeURIComponent(bookingId)}`, {
    token: serviceToken(),
    body,
  });
  return expectStatus(res, [200, 201], `register booking ${bookingId}`);
}

/** Route 2: the booking's conversation (created when new). */
export async function openConversation(node, token, bookingId) {
  const res = await api(node, "GET", `/messaging/conversations/booking/${encodeURIComponent(bookingId)}`, { token });
  return expectStatus(res, [200, 201], `open conversation of ${bookingId}`);
}

/** Route 4. */
export async function sendMessage(node, token, conversationId, content, extra = {}) {
  const res = await api(node, "POST", `/messaging/conversations/${conversationId}/messages`, {
    token,
    body: { content, messageType: "text", ...extra },
  });
  return expectStatus(res, [201], `send to ${conversationId}`);
}

/** Route 3 (marks read for the caller). */
export async function listMessages(node, token, conversationId, { limit = 100 } = {}) {
  const res = await api(node, "GET", `/messaging/conversations/${conversationId}/messages?limit=${limit}`, { token });
  return expectStatus(res, [200], `messages of ${conversationId}`).messages;
}

/** Route 8. */
export async function editMessage(node, token, conversationId, messageId, content) {
  const res = await api(node, "PATCH", `/messaging/conversations/${conversationId}/messages/${messageId}`, {
    token,
    body: { content },
  });
  return expectStatus(res, [200], `edit ${messageId}`);
}

/** Route 10. */
export async function react(node, token, conversationId, messageId, emoji) {
  const res = await api(node, "POST", `/messaging/conversations/${conversationId}/messages/${messageId}/reactions`, {
    token,
    body: { emoji },
  });
  return expectStatus(res, [200, 201], `react to ${messageId}`);
}

/**
 * A fresh booking for one test: a unique id, registered (route 12) to a unique customer, with a title.
 * Returns {booking, customerId, title, customer: token (name Ann, owning the booking)}.
 */
export async function freshBooking(node, label = "bk", { title, customerName = CUSTOMER_NAME } = {}) {
  const booking = uniq(label);
  const customerId = uniq("cus");
  const t = title ?? `Booking ${booking}`;
  await registerBooking(node, booking, customerId, t);
  return { booking, customerId, title: t, customer: customerToken(customerId, [booking], customerName) };
}

// ---------------------------------------------------------------------------------------------
// A tiny host page server (for the widget): serves `html` at `/` on its own port.

export async function startHostPage() {
  const port = await freePort();
  const host = { port, origin: `http://127.0.0.1:${port}`, html: "<!doctype html><title>host</title>" };
  host.server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(host.html);
  });
  await new Promise((resolve) => host.server.listen(port, "127.0.0.1", resolve));
  host.close = () =>
    new Promise((resolve) => {
      host.server.closeAllConnections?.();
      host.server.close(() => resolve());
    });
  return host;
}

// ---------------------------------------------------------------------------------------------
// Browser

export async function launchBrowser() {
  // playwright's launch() gives Chromium a fresh temporary user-data dir of its own (and removes it on
  // close); passing --user-data-dir to launch() is refused by playwright, so the fresh profile comes
  // from there.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: process.env.E2E_HEADED !== "1",
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
}

/**
 * One test file's stack: a nats-server, `nodes` Concierge nodes on it, and a browser.
 * Contexts opened through `newContext`/`newPage` during a test are closed after it (by `uiTest`).
 */
export class Stack {
  static async start({ nodes = 1, clientUrl, env } = {}) {
    const stack = new Stack();
    stack.nodes = [];
    stack.contexts = new Set();
    stack.consoles = new Map();
    try {
      stack.nats = await Nats.start();
      const labels = ["A", "B", "C", "D"];
      stack.nodes = await Promise.all(
        Array.from({ length: nodes }, (_, i) => Node.start(stack.nats, { label: labels[i], clientUrl, env })),
      );
      stack.browser = await launchBrowser();
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  get node() {
    return this.nodes[0];
  }

  async newContext(options = {}) {
    const context = await this.browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
    context.setDefaultTimeout(10_000);
    context.setDefaultNavigationTimeout(15_000);
    this.contexts.add(context);
    context.on("page", (page) => this.watch(page));
    return context;
  }

  /** A new page in a new context; `url` is opened when given. */
  async newPage(url, options = {}) {
    const context = await this.newContext(options);
    const page = await context.newPage();
    if (url) await page.goto(url);
    return page;
  }

  watch(page) {
    const lines = [];
    this.consoles.set(page, lines);
    page.on("console", (m) => lines.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => lines.push(`[pageerror] ${e.message}`));
    page.on("requestfailed", (r) => lines.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  }

  allPages() {
    return [...this.contexts].flatMap((c) => c.pages());
  }

  /** Screenshots of every open page (and its console, and the nodes' logs) into e2e/artifacts/. */
  async saveArtifacts(testName) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const base = testName.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 100);
    let n = 0;
    const saved = [];
    for (const page of this.allPages()) {
      n += 1;
      const file = path.join(ARTIFACTS, `${base}-${n}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true, timeout: 5000 });
        saved.push(file);
      } catch (err) {
        writeFileSync(`${file}.error.txt`, String(err));
      }
      const lines = this.consoles.get(page) ?? [];
      writeFileSync(path.join(ARTIFACTS, `${base}-${n}.txt`), [`url: ${page.url()}`, ...lines].join("\n") + "\n");
    }
    for (const node of this.nodes) {
      try {
        writeFileSync(path.join(ARTIFACTS, `${base}-node-${node.label}.log`), tail(node.log, 20_000));
      } catch {
        // no log
      }
    }
    return saved;
  }

  async closeContexts() {
    for (const c of this.contexts) {
      await c.close().catch(() => {});
    }
    this.contexts.clear();
    this.consoles.clear();
  }

  async close() {
    await this.closeContexts().catch(() => {});
    if (this.browser) await this.browser.close().catch(() => {});
    for (const node of this.nodes) await node.stop().catch(() => {});
    if (this.nats) await this.nats.stop().catch(() => {});
  }
}

/**
 * A browser test: on failure, screenshots of every open page go to e2e/artifacts/<name>-<n>.png;
 * afterwards the test's browser contexts are closed. `getStack` is called when the test runs.
 */
export function uiTest(getStack, name, fn, { timeout = 60_000 } = {}) {
  return test(name, { timeout }, async (t) => {
    const stack = getStack();
    try {
      await fn(stack, t);
    } catch (err) {
      const saved = await stack.saveArtifacts(name).catch((e) => [`(screenshots failed: ${e})`]);
      if (saved.length) t.diagnostic(`screenshots: ${saved.join(", ")}`);
      throw err;
    } finally {
      await stack.closeContexts();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Page helpers (roles and names as UI.md and the plan give them)

/** The log "Messages" of a page (or a FrameLocator: anything with getByRole). */
export const messagesLog = (page) => page.getByRole("log", { name: "Messages", exact: true });

/** The message listitems of the log that contain `text`. */
export const messageItems = (page, text) => messagesLog(page).getByRole("listitem").filter({ hasText: text });

/** Waits until exactly one message listitem contains `text`; returns it. */
export async function expectOneMessage(page, text, { timeout = 10_000 } = {}) {
  const items = messageItems(page, text);
  await items.first().waitFor({ state: "visible", timeout });
  await eventually(async () => {
    const n = await items.count();
    if (n !== 1) throw new Error(`expected exactly one message containing ${JSON.stringify(text)}, found ${n}`);
  }, { timeout: 2000 });
  return items.first();
}

/** Fills the textbox "Message" and presses Enter. */
export async function sendFromComposer(page, text) {
  const box = page.getByRole("textbox", { name: "Message", exact: true });
  await box.fill(text);
  await box.press("Enter");
}

/** The inbox's conversation listitem holding the link `title`. */
export function conversationItem(page, title) {
  const list = page.getByRole("list", { name: "Conversations", exact: true });
  return list.getByRole("listitem").filter({ has: page.getByRole("link", { name: title, exact: true }) });
}

/** Opens the conversation `title` from the inbox's list "Conversations" (by its link). */
export async function openFromInbox(page, title) {
  const list = page.getByRole("list", { name: "Conversations", exact: true });
  const link = list.getByRole("link", { name: title, exact: true });
  await link.click();
  await messagesLog(page).waitFor({ state: "visible" });
}

/** A status-role element with `text` (e.g. the "Reconnecting…" banner). */
export const statusWith = (page, text) => page.getByRole("status").filter({ hasText: text });

/** The message listitem's own button (hovering first, for controls that appear on hover/focus). */
export async function messageButton(item, name) {
  await item.hover();
  return item.getByRole("button", { name, exact: true });
}
