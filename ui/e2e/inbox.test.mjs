// The admin inbox: unread counts and read receipts, the history slider, status and the status filter,
// broadcast.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import {
  Stack,
  adminToken,
  api,
  conversationItem,
  editMessage,
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
  uiTest,
  uniq,
} from "./harness.mjs";

let stack;
const S = () => stack;

before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.close();
});

async function openCustomer(st, b) {
  const page = await st.newPage(st.node.chatUrl(b.booking, b.customer));
  await page.getByRole("textbox", { name: "Message", exact: true }).waitFor();
  return page;
}

describe("inbox", () => {
  uiTest(S, "unread count on the list and the read receipt when the admin opens it", async (st) => {
    const node = st.node;
    const other = await freshBooking(node, "bk_other");
    await openConversation(node, other.customer, other.booking);
    const b = await freshBooking(node, "bk_unread");
    await openConversation(node, b.customer, b.booking);

    const customer = await openCustomer(st, b);
    const admin = await st.newPage(node.inboxUrl(adminToken()));
    // The admin looks at a different conversation meanwhile.
    await openFromInbox(admin, other.title);
    const item = conversationItem(admin, b.title);
    await item.waitFor();
    assert.equal(await item.getByText(/^\d+ unread$/).count(), 0, "nothing unread before the customer writes");

    const text = `Is parking included? ${uniq("m")}`;
    await sendFromComposer(customer, text);
    await expectOneMessage(customer, text);

    await item.getByText("1 unread", { exact: true }).waitFor({ timeout: 10_000 });
    assert.match(await item.innerText(), /Is parking included\?/, "the list item shows the last message");
    // The other conversation is open, so nothing marks this one read.
    await sleep(500);
    assert.equal(await customer.getByText("Seen by Bo", { exact: true }).count(), 0, "not seen before the admin opens it");
    await item.getByText("1 unread", { exact: true }).waitFor();

    await openFromInbox(admin, b.title);
    await expectOneMessage(admin, text);
    await customer.getByText("Seen by Bo", { exact: true }).waitFor({ timeout: 10_000 });
    await eventually(async () => {
      assert.equal(await item.getByText(/^\d+ unread$/).count(), 0, "the unread count went away");
    });
    const stored = await listMessages(node, b.customer, (await openConversation(node, b.customer, b.booking)).id);
    const msg = stored.find((m) => m.content === text);
    assert.ok(msg.readBy.some((r) => r.user === "adm_bo"), `readBy holds the admin: ${JSON.stringify(msg.readBy)}`);
  });

  uiTest(S, "the inbox shows the customer's presence live", async (st) => {
    const node = st.node;
    const b = await freshBooking(node, "bk_presence");
    await openConversation(node, b.customer, b.booking);
    const admin = await st.newPage(node.inboxUrl(adminToken()));
    const item = conversationItem(admin, b.title);
    await item.waitFor();
    await item.getByText("offline", { exact: true }).waitFor();

    const customerContext = await st.newContext();
    const customer = await customerContext.newPage();
    await customer.goto(node.chatUrl(b.booking, b.customer));
    await customer.getByRole("textbox", { name: "Message", exact: true }).waitFor();
    await item.getByText("online", { exact: true }).waitFor({ timeout: 10_000 });

    await customerContext.close();
    await item.getByText("offline", { exact: true }).waitFor({ timeout: 15_000 });
  });

  uiTest(S, "the history slider shows the old text of a message edited later", async (st) => {
    const node = st.node;
    const b = await freshBooking(node, "bk_history");
    const conv = await openConversation(node, b.customer, b.booking);
    const oldText = `Please book a table for 2 ${uniq("m")}`;
    const newText = `Please book a table for 4 ${uniq("m")}`;
    const msg = await sendMessage(node, b.customer, conv.id, oldText);
    await sleep(20);
    await editMessage(node, b.customer, conv.id, msg.id, newText);

    const admin = await st.newPage(node.inboxUrl(adminToken()));
    await openFromInbox(admin, b.title);
    const now = await expectOneMessage(admin, newText);
    assert.match(await now.innerText(), /\(edited\)/);

    const slider = admin.getByRole("slider", { name: "History", exact: true });
    await slider.focus();
    let found = false;
    for (let i = 0; i < 20 && !found; i += 1) {
      await slider.press("ArrowLeft");
      try {
        await messageItems(admin, oldText).first().waitFor({ state: "visible", timeout: 1500 });
        found = true;
      } catch {
        // one more step back
      }
    }
    assert.ok(found, "20 steps left on the History slider never showed the text before the edit");
    assert.equal(await messageItems(admin, oldText).count(), 1, "the old text shows once");
    assert.equal(await messageItems(admin, newText).count(), 0, "the new text is absent as of then");
    await admin.getByText(/^As of /).first().waitFor();

    await admin.getByRole("button", { name: "Back to now", exact: true }).click();
    await expectOneMessage(admin, newText);
    await eventually(async () => {
      assert.equal(await messageItems(admin, oldText).count(), 0, "the old text is gone again");
      assert.equal(await admin.getByText(/^As of /).count(), 0, "'As of' is gone");
    });
    const atEnd = await slider.evaluate((el) =>
      el instanceof HTMLInputElement
        ? el.value === el.max
        : el.getAttribute("aria-valuenow") === el.getAttribute("aria-valuemax"),
    );
    assert.equal(atEnd, true, "the slider is back at its rightmost (now) position");
  });

  uiTest(S, "a closed conversation refuses the customer's send, and the status filter finds it", async (st) => {
    const node = st.node;
    const b = await freshBooking(node, "bk_closed");
    const conv = await openConversation(node, b.customer, b.booking);
    const customer = await openCustomer(st, b);
    const admin = await st.newPage(node.inboxUrl(adminToken()));
    await openFromInbox(admin, b.title);

    await admin.getByRole("combobox", { name: "Status", exact: true }).selectOption({ label: "Closed" });
    await eventually(async () => {
      const res = await api(node, "GET", `/messaging/conversations/${conv.id}`, { token: adminToken() });
      assert.equal(res.body.data?.status, "closed", "the status change reached the server");
    });

    // What the API says to a send into a closed conversation (nothing is written by a refused send).
    const probe = await api(node, "POST", `/messaging/conversations/${conv.id}/messages`, {
      token: b.customer,
      body: { content: "probe", messageType: "text" },
    });
    assert.equal(probe.status, 409);
    const apiMessage = probe.body.message;
    assert.match(apiMessage, /closed/i);

    const text = `Can I still change my dates? ${uniq("m")}`;
    await sendFromComposer(customer, text);
    await customer.getByText(apiMessage).first().waitFor({ timeout: 10_000 });
    const stored = await listMessages(node, adminToken(), conv.id);
    assert.deepEqual(stored.map((m) => m.content), [], "nothing was stored");

    const filter = admin.getByRole("combobox", { name: "Filter by status", exact: true });
    const link = admin
      .getByRole("list", { name: "Conversations", exact: true })
      .getByRole("link", { name: b.title, exact: true });
    await filter.selectOption({ label: "Closed" });
    await link.waitFor({ state: "visible" });
    await filter.selectOption({ label: "Active" });
    await link.waitFor({ state: "detached" });
    await sleep(300);
    assert.equal(await link.count(), 0, "the closed conversation is not listed under Active");
  });

  uiTest(S, "a broadcast reaches the customer's page", async (st) => {
    const node = st.node;
    const b = await freshBooking(node, "bk_broadcast");
    await openConversation(node, b.customer, b.booking);
    const customer = await openCustomer(st, b);
    const admin = await st.newPage(node.inboxUrl(adminToken()));
    await admin.getByRole("list", { name: "Conversations", exact: true }).waitFor();

    const content = `The pool is closed today for maintenance ${uniq("m")}`;
    await admin.getByRole("button", { name: "Broadcast", exact: true }).click();
    await admin.getByRole("textbox", { name: "Broadcast message", exact: true }).fill(content);
    const audience = admin.getByRole("combobox", { name: "Audience", exact: true });
    if (await audience.count()) await audience.selectOption({ label: "Customers" });
    await admin.getByRole("button", { name: "Send broadcast", exact: true }).click();
    await admin.getByText("Broadcast sent").first().waitFor();

    const line = customer.getByText(/^Broadcast from /).filter({ hasText: content });
    await line.first().waitFor({ timeout: 10_000 });
    assert.equal(await line.count(), 1, "the broadcast shows once");
  });
});
