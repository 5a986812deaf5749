// Reconnection that loses nothing: a node is killed (-9) and restarted mid-conversation; the pages on it
// show the banner, queue what is typed meanwhile, and catch up with nothing lost or shown twice.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import {
  Stack,
  adminToken,
  api,
  eventually,
  expectOneMessage,
  freshBooking,
  listMessages,
  messageItems,
  openConversation,
  openFromInbox,
  sendFromComposer,
  sendMessage,
  sleep,
  statusWith,
  uiTest,
  uniq,
} from "./harness.mjs";

let stack;
const S = () => stack;

before(async () => {
  stack = await Stack.start({ nodes: 2 });
});
after(async () => {
  await stack?.close();
});

/** Waits until `node` has folded the conversation (another node created it). */
async function waitForConversation(node, conversationId) {
  await eventually(
    async () => {
      const res = await api(node, "GET", `/messaging/conversations/${conversationId}`, { token: adminToken() });
      assert.equal(res.status, 200, `node ${node.label} has not folded ${conversationId} yet`);
    },
    { timeout: 10_000, interval: 50 },
  );
}

/** Every content in `contents` is stored exactly once (route 3). */
async function assertStoredOnce(node, conversationId, contents) {
  const stored = (await listMessages(node, adminToken(), conversationId)).map((m) => m.content);
  for (const c of contents) {
    assert.equal(stored.filter((s) => s === c).length, 1, `${JSON.stringify(c)} stored once; stored: ${JSON.stringify(stored)}`);
  }
}

describe("reconnect", () => {
  uiTest(
    S,
    "customer's node is killed and restarted: missed messages once each, queued message sent once",
    async (st) => {
      const [A, B] = st.nodes;
      if (A.child.exitCode !== null || A.child.signalCode !== null) await A.restart();
      const b = await freshBooking(A, "bk_reconnect");
      const conv = await openConversation(A, b.customer, b.booking);
      await waitForConversation(B, conv.id);

      const customer = await st.newPage(A.chatUrl(b.booking, b.customer));
      const admin = await st.newPage(B.inboxUrl(adminToken()));
      await openFromInbox(admin, b.title);
      const banner = statusWith(customer, "Reconnecting…");

      // Live before the crash.
      const before = `Before the outage ${uniq("m")}`;
      await sendFromComposer(customer, before);
      await expectOneMessage(admin, before);
      assert.equal(await banner.count(), 0, "no banner while connected");

      await A.kill9();
      await banner.waitFor({ state: "visible", timeout: 15_000 });

      const missed = [1, 2, 3].map((i) => `Missed reply ${i} while you were away ${uniq("m")}`);
      for (const text of missed) {
        await sendFromComposer(admin, text);
        await expectOneMessage(admin, text);
      }
      await eventually(async () => {
        for (const text of missed) {
          assert.equal(await messageItems(admin, text).filter({ hasText: "Sending…" }).count(), 0, `${text} settled`);
        }
      });

      const queued = `Typed while offline ${uniq("m")}`;
      await sendFromComposer(customer, queued);
      const pending = await expectOneMessage(customer, queued);
      await eventually(async () => assert.match(await pending.innerText(), /Sending…/, "the queued message shows Sending…"));
      for (const text of missed) {
        assert.equal(await messageItems(customer, text).count(), 0, "nothing arrives while the node is down");
      }

      await A.restart();

      for (const text of missed) await expectOneMessage(customer, text, { timeout: 30_000 });
      await banner.waitFor({ state: "hidden", timeout: 30_000 });
      await expectOneMessage(admin, queued, { timeout: 20_000 });
      await eventually(async () =>
        assert.doesNotMatch(await messageItems(customer, queued).first().innerText(), /Sending…|Not sent/),
      );

      // Late duplicates would show up a little after the catch-up: wait, then count again.
      await sleep(1500);
      for (const text of [before, ...missed, queued]) {
        assert.equal(await messageItems(customer, text).count(), 1, `customer shows ${JSON.stringify(text)} once`);
        assert.equal(await messageItems(admin, text).count(), 1, `admin shows ${JSON.stringify(text)} once`);
      }
      await assertStoredOnce(B, conv.id, [before, ...missed, queued]);
      const stored = await listMessages(B, adminToken(), conv.id);
      assert.equal(stored.length, 5, `exactly 5 messages stored: ${JSON.stringify(stored.map((m) => m.content))}`);
    },
    { timeout: 120_000 },
  );

  uiTest(
    S,
    "both pages' node is killed and restarted: both catch up with what was written elsewhere",
    async (st) => {
      const [A, B] = st.nodes;
      if (A.child.exitCode !== null || A.child.signalCode !== null) await A.restart();
      const b = await freshBooking(A, "bk_bothdown");
      const conv = await openConversation(A, b.customer, b.booking);
      await waitForConversation(B, conv.id);

      const customer = await st.newPage(A.chatUrl(b.booking, b.customer));
      const admin = await st.newPage(A.inboxUrl(adminToken()));
      await openFromInbox(admin, b.title);
      const first = `Hello before the restart ${uniq("m")}`;
      await sendFromComposer(admin, first);
      await expectOneMessage(customer, first);

      await A.kill9();
      await statusWith(customer, "Reconnecting…").waitFor({ timeout: 15_000 });
      await statusWith(admin, "Reconnecting…").waitFor({ timeout: 15_000 });

      // Meanwhile both users write from elsewhere (node B, over HTTP: another tab, another device).
      const fromAnn = `Ann from her phone ${uniq("m")}`;
      const fromBo = `Bo from another desk ${uniq("m")}`;
      await sendMessage(B, b.customer, conv.id, fromAnn);
      await sendMessage(B, adminToken(), conv.id, fromBo);

      await A.restart();
      for (const page of [customer, admin]) {
        await expectOneMessage(page, fromAnn, { timeout: 30_000 });
        await expectOneMessage(page, fromBo, { timeout: 30_000 });
        await statusWith(page, "Reconnecting…").waitFor({ state: "hidden", timeout: 30_000 });
      }
      await sleep(1500);
      for (const page of [customer, admin]) {
        for (const text of [first, fromAnn, fromBo]) {
          assert.equal(await messageItems(page, text).count(), 1, `${JSON.stringify(text)} shows once`);
        }
      }
      // Order: the log shows them oldest first.
      const order = await customer.getByRole("log", { name: "Messages", exact: true }).getByRole("listitem").allInnerTexts();
      const idx = [first, fromAnn, fromBo].map((t) => order.findIndex((s) => s.includes(t)));
      assert.deepEqual([...idx].sort((x, y) => x - y), idx, `messages in order: ${JSON.stringify(order)}`);
    },
    { timeout: 120_000 },
  );
});
