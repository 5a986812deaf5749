// The admins' "Failed webhooks" panel: a delivery its endpoint kept refusing until WEBHOOK_MAX_AGE is
// listed, and "Send again" delivers it (same webhook-id, same body) once the endpoint answers.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { after, before, describe } from "node:test";
import {
  Stack,
  adminToken,
  api,
  eventually,
  freshBooking,
  openConversation,
  sendMessage,
  uiTest,
  uniq,
} from "./harness.mjs";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/**
 * An endpoint on a free port of 127.0.0.1 that records every request and answers `status` (500 until
 * a test changes it), with an empty body.
 */
async function startReceiver() {
  const receiver = { status: 500, requests: [] };
  receiver.server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const status = receiver.status;
      receiver.requests.push({
        method: req.method,
        path: req.url,
        id: req.headers["webhook-id"],
        timestamp: req.headers["webhook-timestamp"],
        signature: req.headers["webhook-signature"],
        body: Buffer.concat(chunks).toString("utf8"),
        status,
      });
      res.writeHead(status);
      res.end();
    });
  });
  await new Promise((resolve) => receiver.server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${receiver.server.address().port}/hooks`;
  receiver.close = () =>
    new Promise((resolve) => {
      receiver.server.closeAllConnections?.();
      receiver.server.close(() => resolve());
    });
  return receiver;
}

/** The Standard Webhooks signature of a request (`v1,` and the base64 HMAC-SHA256 of id.timestamp.body). */
function expectedSignature(r) {
  const key = Buffer.from(SECRET.slice("whsec_".length), "base64");
  const mac = createHmac("sha256", key).update(`${r.id}.${r.timestamp}.${r.body}`).digest("base64");
  return `v1,${mac}`;
}

let receiver;
let stack;
const S = () => stack;

before(async () => {
  receiver = await startReceiver();
  stack = await Stack.start({
    env: {
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_EVENTS: "message_sent",
      WEBHOOK_MAX_AGE: "1",
      WEBHOOK_FIRST_RETRY_MS: "200",
    },
  });
});
after(async () => {
  await stack?.close();
  await receiver?.close();
});

async function deadLetters(node, token) {
  const res = await api(node, "GET", "/messaging/webhooks/failed", { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.deadLetters;
}

/** Opens the inbox's "Failed webhooks" and returns its region, list and list items. */
async function openPanel(st, token) {
  const page = await st.newPage(st.node.inboxUrl(token));
  await page.getByRole("button", { name: "Failed webhooks", exact: true }).click();
  const region = page.getByRole("region", { name: "Failed webhooks", exact: true });
  const list = region.getByRole("list", { name: "Failed webhooks", exact: true });
  return { page, region, list, items: list.getByRole("listitem") };
}

describe("failed webhooks", () => {
  uiTest(S, "an admin sees a dead letter and sends it again", async (st) => {
    const node = st.node;
    const admin = adminToken();
    assert.deepEqual(await deadLetters(node, admin), [], "nothing failed before the test");

    const b = await freshBooking(node, "bk_hook");
    const conversation = await openConversation(node, b.customer, b.booking);
    assert.equal(
      (await api(node, "GET", "/messaging/webhooks/failed", { token: b.customer })).status,
      403,
      "a customer may not list them",
    );
    const text = `Is breakfast included? ${uniq("m")}`;
    const sent = await sendMessage(node, b.customer, conversation.id, text);

    // Refused with 500 on every attempt until WEBHOOK_MAX_AGE (1 s): one dead letter.
    const letter = await eventually(
      async () => {
        const letters = await deadLetters(node, admin);
        assert.equal(letters.length, 1, `dead letters: ${JSON.stringify(letters)}`);
        return letters[0];
      },
      { timeout: 20_000, interval: 200 },
    );
    assert.equal(letter.type, "event.message_sent");
    assert.equal(letter.url, receiver.url);
    assert.equal(letter.lastError, "HTTP 500");
    assert.equal(letter.body.type, "event.message_sent");
    assert.equal(letter.body.data.type, "message_sent", `the stored envelope: ${JSON.stringify(letter.body)}`);
    assert.equal(letter.body.data.conversationId, conversation.id);
    assert.equal(letter.body.data.data.messageId, sent.id);
    assert.equal(letter.body.data.data.content, text);
    const attempts = receiver.requests.filter((r) => r.id === letter.id);
    assert.deepEqual(
      receiver.requests.map((r) => r.id),
      attempts.map((r) => r.id),
      "every request so far was an attempt at this one delivery",
    );
    assert.equal(attempts.length, letter.attempts, "every attempt reached the endpoint");
    assert.ok(attempts.every((r) => r.status === 500 && r.method === "POST" && r.path === "/hooks"));

    // Two admins open the panel: each sees exactly the one dead letter.
    const bo = await openPanel(st, admin);
    const cy = await openPanel(st, adminToken("adm_cy", "Cy"));
    for (const { items } of [bo, cy]) {
      await items.first().waitFor();
      assert.equal(await items.count(), 1, "one list item per dead letter");
      const item = items.first();
      await item.getByText("event.message_sent", { exact: true }).waitFor();
      await item.getByText(receiver.url, { exact: true }).waitFor();
      await item.getByText("HTTP 500", { exact: true }).waitFor();
      const times = letter.attempts === 1 ? "1 attempt" : `${letter.attempts} attempts`;
      await item.getByText(times, { exact: true }).waitFor();
      assert.equal(await item.locator("time").getAttribute("datetime"), letter.failedAt, "failed at");
    }

    // The endpoint is back; Bo sends it again.
    receiver.status = 204;
    const before = receiver.requests.length;
    await bo.items.first().getByRole("button", { name: "Send again", exact: true }).click();
    await bo.region.getByRole("status").getByText("Queued again", { exact: true }).waitFor();
    await bo.region.getByText("No failed webhooks.", { exact: true }).waitFor();
    assert.equal(await bo.list.count(), 0, "no list once it is empty");

    const again = await eventually(
      () => {
        const later = receiver.requests.slice(before);
        assert.equal(later.length, 1, `requests after "Send again": ${JSON.stringify(later)}`);
        return later[0];
      },
      { timeout: 20_000, interval: 100 },
    );
    assert.equal(again.id, letter.id, "the same webhook-id");
    assert.equal(again.status, 204);
    assert.deepEqual(JSON.parse(again.body), letter.body, "the same body");
    assert.equal(again.signature, expectedSignature(again), "signed with WEBHOOK_SECRET");
    assert.deepEqual(await deadLetters(node, admin), [], "no dead letter left");

    // Cy's list is stale: "Send again" there is refused in the API's own words; Refresh empties it.
    const refusal = await api(node, "POST", `/messaging/webhooks/failed/${encodeURIComponent(letter.id)}/redeliver`, {
      token: admin,
    });
    assert.equal(refusal.status, 404);
    assert.equal(refusal.body.error, "not_found");
    await cy.items.first().getByRole("button", { name: "Send again", exact: true }).click();
    await cy.region.getByRole("alert").getByText(refusal.body.message, { exact: true }).waitFor();
    assert.equal(await cy.items.count(), 1, "a refused item stays");
    await cy.region.getByRole("button", { name: "Refresh", exact: true }).click();
    await cy.region.getByText("No failed webhooks.", { exact: true }).waitFor();
    assert.equal(await cy.region.getByRole("alert").count(), 0, "Refresh clears the error");
    assert.equal(receiver.requests.length, before + 1, "nothing else was sent");
  });
});
