// The support inbox of issue 17 (docs/inbox.md) as a team runs it: two admins and a customer.
// "Assignee", an "Internal note" the other admin sees live and the customer never sees (with a
// mention), "Snooze", a canned reply suggested on `/`, labels and priority with the list's filters and
// the "waiting" order, and the customer's rating once the conversation is closed.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import {
  Stack,
  adminToken,
  api,
  conversationItem,
  eventually,
  expectOneMessage,
  freshBooking,
  listMessages,
  messageItems,
  messagesLog,
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

const BO = { sub: "adm_bo", name: "Bo" };
const CY = { sub: "adm_cy", name: "Cy" };
const boToken = () => adminToken(BO.sub, BO.name);
const cyToken = () => adminToken(CY.sub, CY.name);

async function conversationOf(node, id, token = boToken()) {
  const res = await api(node, "GET", `/messaging/conversations/${id}`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

async function openCustomer(st, b) {
  const page = await st.newPage(st.node.chatUrl(b.booking, b.customer));
  await page.getByRole("textbox", { name: "Message", exact: true }).waitFor();
  return page;
}

async function openAdmin(st, token, title) {
  const page = await st.newPage(st.node.inboxUrl(token));
  if (title) await openFromInbox(page, title);
  else await page.getByRole("list", { name: "Conversations", exact: true }).waitFor();
  return page;
}

/** A local datetime-local value ("2026-12-05T10:30") `ms` from now, in this machine's time zone. */
function localInput(ms) {
  const d = new Date(Date.now() + ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

describe("the support inbox, as a team", () => {
  uiTest(S, "Assignee, then an internal note the other admin sees live and the customer never sees", async (st) => {
    const node = st.node;
    const b = await freshBooking(node, "bk_team");
    const conv = await openConversation(node, b.customer, b.booking);
    const question = `Can I bring my dog? ${uniq("m")}`;
    await sendMessage(node, b.customer, conv.id, question);

    const customer = await openCustomer(st, b);
    const bo = await openAdmin(st, boToken(), b.title);
    const cy = await openAdmin(st, cyToken(), b.title);
    await expectOneMessage(bo, question);
    await expectOneMessage(cy, question);

    // Bo takes it.
    const assignee = bo.getByRole("combobox", { name: "Assignee", exact: true });
    assert.equal(await assignee.inputValue(), "", "nobody is assigned at first");
    await assignee.selectOption({ label: "Me (Bo)" });
    await eventually(async () => assert.equal((await conversationOf(node, conv.id)).assignee, BO.sub));
    // Cy's page follows live (conversation_updated).
    await eventually(async () => {
      assert.equal(await cy.getByRole("combobox", { name: "Assignee", exact: true }).inputValue(), BO.sub);
    });
    await conversationItem(bo, b.title).getByText("Assigned to me", { exact: true }).waitFor();

    // A note for Cy (with a mention), then a reply to the customer.
    const noteText = `Refund approved, @${CY.sub} please double-check ${uniq("note")}`;
    const replyText = `Yes, pets are welcome. ${uniq("m")}`;
    const noteBox = bo.getByRole("checkbox", { name: "Internal note", exact: true });
    await noteBox.check();
    assert.equal(
      await bo.getByRole("button", { name: "Attach file", exact: true }).isDisabled(),
      true,
      "Attach file is disabled while writing a note",
    );
    await sendFromComposer(bo, noteText);
    const atBo = await expectOneMessage(bo, noteText);
    await atBo.getByText("Internal note", { exact: true }).waitFor();

    const atCy = await expectOneMessage(cy, noteText);
    await atCy.getByText("Internal note", { exact: true }).waitFor();
    // The note is visibly different (its own background).
    const [noteBg, plainBg] = await Promise.all([
      atCy.evaluate((el) => getComputedStyle(el).backgroundColor),
      messageItems(cy, question).first().evaluate((el) => getComputedStyle(el).backgroundColor),
    ]);
    assert.notEqual(noteBg, plainBg, "a note does not look like a message");
    // Cy was mentioned: a toast says so.
    await cy.getByRole("status").filter({ hasText: /mentioned you in/ }).first().waitFor({ timeout: 10_000 });

    await noteBox.uncheck();
    await sendFromComposer(bo, replyText);
    await expectOneMessage(bo, replyText);
    await expectOneMessage(customer, replyText);

    // The customer's log holds exactly the question and the reply, and nothing of the note.
    await sleep(500);
    const items = messagesLog(customer).getByRole("listitem");
    assert.equal(await items.count(), 2, `the customer sees 2 messages: ${await messagesLog(customer).innerText()}`);
    assert.match(await items.nth(0).innerText(), new RegExp(question.replace(/[?]/g, "\\?")));
    assert.match(await items.nth(1).innerText(), /Yes, pets are welcome/);
    const customerText = await customer.locator("body").innerText();
    assert.ok(!customerText.includes(noteText), "the note's text is nowhere on the customer's page");
    assert.ok(!customerText.includes("Internal note"), "no 'Internal note' on the customer's page");
    assert.equal(await customer.getByRole("checkbox", { name: "Internal note" }).count(), 0);
    assert.equal(await customer.getByRole("combobox", { name: "Assignee" }).count(), 0);

    // After a reload too, and through the API.
    await customer.reload();
    await expectOneMessage(customer, replyText);
    assert.equal(await messagesLog(customer).getByRole("listitem").count(), 2);
    const seen = await listMessages(node, b.customer, conv.id);
    assert.deepEqual(
      seen.map((m) => m.content),
      [question, replyText],
      "the customer's pages carry no note",
    );
    const all = await listMessages(node, cyToken(), conv.id);
    assert.equal(all.filter((m) => m.internal === true).length, 1, "the admins' pages carry the note");
  });

  uiTest(S, "Snooze with a quick choice, then to a time of one's own", async (st) => {
    const node = st.node;
    const b = await freshBooking(node, "bk_snooze");
    const conv = await openConversation(node, b.customer, b.booking);
    await sendMessage(node, b.customer, conv.id, `Any news? ${uniq("m")}`);
    const bo = await openAdmin(st, boToken(), b.title);

    const before = Date.now();
    await bo.getByRole("button", { name: "Snooze", exact: true }).click();
    await bo.getByRole("button", { name: "1 hour", exact: true }).click();
    const snoozed = await eventually(async () => {
      const c = await conversationOf(node, conv.id);
      assert.equal(c.status, "snoozed");
      return c;
    });
    const until = Date.parse(snoozed.snoozedUntil);
    assert.ok(Math.abs(until - (before + 3_600_000)) < 60_000, `snoozed for about an hour: ${snoozed.snoozedUntil}`);
    await bo.getByText(/^Snoozed until /).first().waitFor();
    assert.equal(await bo.getByRole("combobox", { name: "Status", exact: true }).inputValue(), "snoozed");
    await conversationItem(bo, b.title).getByText(/Snoozed until/).waitFor();

    // Another time, typed into the picker's field.
    await bo.getByRole("button", { name: "Snooze", exact: true }).click();
    const wanted = localInput(2 * 86_400_000);
    await bo.getByLabel("Snooze until", { exact: true }).fill(wanted);
    await bo.getByRole("button", { name: "Snooze until then", exact: true }).click();
    await eventually(async () => {
      const c = await conversationOf(node, conv.id);
      const d = new Date(c.snoozedUntil);
      const pad = (n) => String(n).padStart(2, "0");
      const local = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
      assert.equal(local, wanted, "the wake-up moved to the time typed");
    });

    // The filter finds it under Snoozed; "Status" ends the snooze.
    const filter = bo.getByRole("combobox", { name: "Filter by status", exact: true });
    await filter.selectOption({ label: "Snoozed" });
    await conversationItem(bo, b.title).waitFor();
    await bo.getByRole("combobox", { name: "Status", exact: true }).selectOption({ label: "Active" });
    await eventually(async () => assert.equal((await conversationOf(node, conv.id)).status, "active"));
    await conversationItem(bo, b.title).waitFor({ state: "detached" });
  });

  uiTest(S, "typing / suggests the canned replies; Enter puts one in", async (st) => {
    const node = st.node;
    const shortcut = uniq("wifi").toLowerCase().replace(/[^a-z0-9_-]/g, "");
    const content = `The Wi-Fi password is on the card in your room. ${uniq("c")}`;
    const saved = await api(node, "PUT", `/messaging/canned-replies/${shortcut}`, {
      token: cyToken(),
      body: { title: "Wi-Fi password", content },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));

    const b = await freshBooking(node, "bk_canned");
    await openConversation(node, b.customer, b.booking);
    const customer = await openCustomer(st, b);
    const bo = await openAdmin(st, boToken(), b.title);

    const box = bo.getByRole("textbox", { name: "Message", exact: true });
    await box.fill("");
    await box.pressSequentially(`/${shortcut.slice(0, 6)}`);
    const listbox = bo.getByRole("listbox", { name: "Canned replies", exact: true });
    await listbox.waitFor();
    const option = listbox.getByRole("option").filter({ hasText: "Wi-Fi password" });
    await option.waitFor();
    assert.equal(await option.getAttribute("aria-selected"), "true", "the first match is the active option");
    // Nothing matches: no suggestions.
    await box.fill("/zz-nothing-matches");
    await listbox.waitFor({ state: "detached" });
    // A word after the shortcut is a message, not a search.
    await box.fill(`/${shortcut} now`);
    await sleep(200);
    assert.equal(await listbox.count(), 0);

    await box.fill("");
    await box.pressSequentially(`/${shortcut}`);
    await option.waitFor();
    await box.press("Enter");
    assert.equal(await box.inputValue(), content, "Enter put the reply's text in the box");
    await listbox.waitFor({ state: "detached" });
    await box.press("Enter");
    await expectOneMessage(bo, content);
    await expectOneMessage(customer, content);

    // By click too.
    await box.pressSequentially("/");
    await option.click();
    assert.equal(await box.inputValue(), content);
  });

  uiTest(S, "labels and priority, the list's filters, and the waiting order", async (st) => {
    const node = st.node;
    const vip = await freshBooking(node, "bk_vip");
    const vipConv = await openConversation(node, vip.customer, vip.booking);
    const plain = await freshBooking(node, "bk_plain");
    const plainConv = await openConversation(node, plain.customer, plain.booking);
    // Both customers wait; the plain one since earlier.
    await sendMessage(node, plain.customer, plainConv.id, `First question ${uniq("m")}`);
    await sleep(50);
    await sendMessage(node, vip.customer, vipConv.id, `Second question ${uniq("m")}`);
    const label = `vip-${uniq("l")}`.slice(0, 30);

    const bo = await openAdmin(st, boToken(), vip.title);
    await bo.getByRole("textbox", { name: "Add label", exact: true }).fill(label);
    await bo.getByRole("button", { name: "Add", exact: true }).click();
    await bo.getByRole("button", { name: `Remove label ${label}`, exact: true }).waitFor();
    await bo.getByRole("combobox", { name: "Priority", exact: true }).selectOption({ label: "Urgent" });
    await eventually(async () => {
      const c = await conversationOf(node, vipConv.id);
      assert.deepEqual(c.labels, [label]);
      assert.equal(c.priority, "urgent");
    });
    const vipItem = conversationItem(bo, vip.title);
    await vipItem.getByText("Priority: Urgent", { exact: true }).waitFor();
    await vipItem.getByText(label, { exact: true }).waitFor();
    await conversationItem(bo, plain.title).getByText("Priority: Normal", { exact: true }).waitFor();
    await vipItem.getByText(/^waiting /).waitFor();

    const list = bo.getByRole("list", { name: "Conversations", exact: true });
    // The titles listed, of this test's two conversations (the other tests' share the server).
    const titles = async () =>
      (await list.getByRole("link").allInnerTexts()).filter((t) => t === vip.title || t === plain.title);

    // Label filter.
    await bo.getByRole("combobox", { name: "Filter by label", exact: true }).selectOption({ label });
    await eventually(async () => assert.deepEqual(await titles(), [vip.title]));
    await bo.getByRole("combobox", { name: "Filter by label", exact: true }).selectOption({ label: "Any label" });
    // Priority filter.
    const byPriority = bo.getByRole("combobox", { name: "Filter by priority", exact: true });
    await byPriority.selectOption({ label: "Urgent" });
    await eventually(async () => assert.deepEqual(await titles(), [vip.title]));
    await byPriority.selectOption({ label: "Normal" });
    await conversationItem(bo, plain.title).waitFor();
    await vipItem.waitFor({ state: "detached" });
    await byPriority.selectOption({ label: "Any priority" });

    // Assignee filter: Mine, then Unassigned.
    await bo.getByRole("combobox", { name: "Assignee", exact: true }).selectOption({ label: "Me (Bo)" });
    await eventually(async () => assert.equal((await conversationOf(node, vipConv.id)).assignee, BO.sub));
    const byAssignee = bo.getByRole("combobox", { name: "Filter by assignee", exact: true });
    await byAssignee.selectOption({ label: "Mine" });
    await eventually(async () => assert.deepEqual(await titles(), [vip.title]));
    await byAssignee.selectOption({ label: "Unassigned" });
    await conversationItem(bo, plain.title).waitFor();
    await vipItem.waitFor({ state: "detached" });
    await byAssignee.selectOption({ label: "Everyone's" });

    // Waiting longest: the plain conversation (waiting since earlier) comes before the vip one.
    await bo.getByRole("combobox", { name: "Sort", exact: true }).selectOption({ label: "Waiting longest" });
    await eventually(async () => assert.deepEqual(await titles(), [plain.title, vip.title]));
    // An admin's answer ends the wait: the vip conversation loses its "waiting".
    await sendFromComposer(bo, `On it ${uniq("m")}`);
    await eventually(async () => assert.equal(await vipItem.getByText(/^waiting /).count(), 0), { timeout: 10_000 });
  });

  uiTest(S, "after closing, the customer rates the conversation and sees the thanks", async (st) => {
    const node = st.node;
    const b = await freshBooking(node, "bk_rate");
    const conv = await openConversation(node, b.customer, b.booking);
    await sendMessage(node, b.customer, conv.id, `Thanks for the help ${uniq("m")}`);
    const customer = await openCustomer(st, b);
    assert.equal(await customer.getByRole("button", { name: "Rate 5 of 5" }).count(), 0, "no prompt while open");

    const bo = await openAdmin(st, boToken(), b.title);
    await bo.getByRole("combobox", { name: "Status", exact: true }).selectOption({ label: "Closed" });

    const star4 = customer.getByRole("button", { name: "Rate 4 of 5", exact: true });
    await star4.waitFor({ timeout: 10_000 });
    for (let n = 1; n <= 5; n += 1) {
      assert.equal(await customer.getByRole("button", { name: `Rate ${n} of 5`, exact: true }).count(), 1);
    }
    await star4.click();
    assert.equal(await star4.getAttribute("aria-pressed"), "true");
    await customer.getByRole("textbox", { name: "Comment (optional)", exact: true }).fill("Quick and kind");
    await customer.getByRole("button", { name: "Submit rating", exact: true }).click();
    await customer.getByText("Thanks for your rating", { exact: true }).waitFor();
    assert.equal(await star4.count(), 0, "the prompt is gone");

    const rated = await conversationOf(node, conv.id);
    assert.equal(rated.rating?.score, 4);
    assert.equal(rated.rating?.comment, "Quick and kind");
    // The admin sees the rating with the conversation.
    await bo.reload();
    await openFromInbox(bo, b.title);
    await bo.getByText(/Rated 4 of 5: “Quick and kind”/).first().waitFor({ timeout: 10_000 });

    // Never again: not after a reload either.
    await customer.reload();
    await customer.getByText("Thanks for your rating", { exact: true }).waitFor();
    assert.equal(await customer.getByRole("button", { name: "Rate 4 of 5" }).count(), 0);
  });
});
