// Customer chat and admin inbox talking live: messages both ways, typing, edit and delete, text never
// rendered as HTML, older messages, phone width.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import {
  Stack,
  adminToken,
  eventually,
  expectOneMessage,
  freshBooking,
  listMessages,
  messageButton,
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

/** A fresh booking with its conversation, the customer's /chat and the admin's /inbox with it open. */
async function customerAndAdmin(st, label) {
  const node = st.node;
  const b = await freshBooking(node, label);
  const conv = await openConversation(node, b.customer, b.booking);
  const customer = await st.newPage(node.chatUrl(b.booking, b.customer));
  await customer.getByRole("textbox", { name: "Message", exact: true }).waitFor();
  const admin = await st.newPage(node.inboxUrl(adminToken()));
  await openFromInbox(admin, b.title);
  return { b, conv, customer, admin };
}

/** Marks the page so that a reload (which would drop the mark) is detected. */
async function markNoReload(page) {
  await page.evaluate(() => {
    window.__e2eNoReload = true;
  });
}
async function assertNoReload(page, who) {
  assert.equal(await page.evaluate(() => window.__e2eNoReload === true), true, `${who}'s page was reloaded`);
}

describe("chat", () => {
  uiTest(S, "customer and admin chat live both ways", async (st) => {
    const { customer, admin } = await customerAndAdmin(st, "bk_live");
    await markNoReload(customer);
    await markNoReload(admin);

    const fromAnn = `Hello, can I check in early? ${uniq("m")}`;
    await sendFromComposer(customer, fromAnn);
    await expectOneMessage(customer, fromAnn);
    const atAdmin = await expectOneMessage(admin, fromAnn);
    assert.match(await atAdmin.innerText(), /Ann/, "the admin sees the sender's name on the customer's message");

    const fromBo = `Of course, from 11:00. ${uniq("m")}`;
    await sendFromComposer(admin, fromBo);
    await expectOneMessage(admin, fromBo);
    const atCustomer = await expectOneMessage(customer, fromBo);
    assert.match(await atCustomer.innerText(), /Bo/, "the customer sees the admin's name on the admin's message");

    // Both settle: no pending marker left on either own message, and each side shows each message once.
    await eventually(async () => {
      assert.equal(await messageItems(customer, fromAnn).filter({ hasText: "Sending…" }).count(), 0);
      assert.equal(await messageItems(admin, fromBo).filter({ hasText: "Sending…" }).count(), 0);
    });
    for (const page of [customer, admin]) {
      assert.equal(await messageItems(page, fromAnn).count(), 1);
      assert.equal(await messageItems(page, fromBo).count(), 1);
    }
    await assertNoReload(customer, "the customer");
    await assertNoReload(admin, "the admin");
  });

  uiTest(S, "typing shows on the other side and expires", async (st) => {
    const { customer, admin } = await customerAndAdmin(st, "bk_typing");
    const indicator = admin.getByText("Ann is typing…", { exact: true });
    assert.equal(await indicator.count(), 0, "nobody is typing yet");

    const box = customer.getByRole("textbox", { name: "Message", exact: true });
    await box.click();
    await box.pressSequentially("Is breakfast incl", { delay: 60 });
    await indicator.waitFor({ state: "visible", timeout: 5000 });
    // The typist does not see their own indicator.
    assert.equal(await customer.getByText("Ann is typing…", { exact: true }).count(), 0);

    const stopped = Date.now();
    await indicator.waitFor({ state: "hidden", timeout: 9000 });
    const gone = Date.now() - stopped;
    assert.ok(gone <= 8500, `the typing indicator went away ${gone} ms after typing stopped (want <= ~8 s)`);
    // Nothing was sent by typing.
    assert.equal(await messageItems(admin, "Is breakfast incl").count(), 0);
  });

  uiTest(S, "an edit and a delete by the customer appear on the admin's side", async (st) => {
    const { customer, admin } = await customerAndAdmin(st, "bk_edit");
    const original = `Arriving at 14:00 ${uniq("m")}`;
    const edited = `Arriving at 16:30 ${uniq("m")}`;
    await sendFromComposer(customer, original);
    const mine = await expectOneMessage(customer, original);
    await expectOneMessage(admin, original);

    await (await messageButton(mine, "Edit")).click();
    const editBox = customer.getByRole("textbox", { name: "Edit message", exact: true });
    await editBox.fill(edited);
    await customer.getByRole("button", { name: "Save", exact: true }).click();

    const atAdmin = await expectOneMessage(admin, edited);
    await eventually(async () => {
      assert.match(await atAdmin.innerText(), /\(edited\)/, "the admin's copy says (edited)");
      assert.equal(await messageItems(admin, original).count(), 0, "the old text is gone on the admin's side");
    });
    const mineEdited = await expectOneMessage(customer, edited);
    assert.match(await mineEdited.innerText(), /\(edited\)/);

    await (await messageButton(mineEdited, "Delete")).click();
    await customer.getByRole("button", { name: "Confirm delete", exact: true }).click();

    await eventually(async () => {
      assert.equal(await messageItems(admin, edited).count(), 0, "the deleted text is gone on the admin's side");
      assert.equal(await messageItems(admin, "Message deleted").count(), 1, "the admin sees one 'Message deleted'");
    });
    await eventually(async () => {
      assert.equal(await messageItems(customer, edited).count(), 0);
      assert.equal(await messageItems(customer, "Message deleted").count(), 1);
    });
  });

  uiTest(S, "reply, reactions (toggled), and Shift+Enter for a new line", async (st) => {
    const { conv, customer, admin } = await customerAndAdmin(st, "bk_reply");
    const node = st.node;
    const fromBo = `Breakfast is served from 7:00 to 10:30. ${uniq("m")}`;
    const original = await sendMessage(node, adminToken(), conv.id, fromBo);
    const item = await expectOneMessage(customer, fromBo);
    await expectOneMessage(admin, fromBo);

    // Reply.
    await (await messageButton(item, "Reply")).click();
    await customer.getByText(/^Replying to Bo: Breakfast is served/).waitFor();
    const reply = `Great, we will be down at 8. ${uniq("m")}`;
    await sendFromComposer(customer, reply);
    const replyItem = await expectOneMessage(customer, reply);
    await eventually(async () => assert.match(await replyItem.innerText(), /In reply to Bo: Breakfast is served/));
    assert.equal(await customer.getByRole("button", { name: "Cancel reply", exact: true }).count(), 0,
      "the reply bar closes after sending");
    const atAdmin = await expectOneMessage(admin, reply);
    await eventually(async () => assert.match(await atAdmin.innerText(), /In reply to Bo: Breakfast is served/));
    await eventually(async () => {
      const stored = await listMessages(node, adminToken(), conv.id);
      const r = stored.find((m) => m.content === reply);
      assert.equal(r?.replyTo, original.id, "stored as a reply to Bo's message");
    });

    // React, see it on both sides, react again to remove it.
    const thumbs = await messageButton(item, "React 👍");
    assert.equal(await thumbs.getAttribute("aria-pressed"), "false");
    await thumbs.click();
    await eventually(async () => {
      assert.equal(await thumbs.getAttribute("aria-pressed"), "true");
      assert.match(await item.innerText(), /👍 1/);
      assert.match(await messageItems(admin, fromBo).first().innerText(), /👍 1/, "the admin sees the reaction");
    });
    await thumbs.click();
    await eventually(async () => {
      assert.equal(await thumbs.getAttribute("aria-pressed"), "false");
      assert.doesNotMatch(await item.innerText(), /👍 1/);
      assert.doesNotMatch(await messageItems(admin, fromBo).first().innerText(), /👍 1/, "removed on the admin's side");
    });

    // Shift+Enter is a new line; Enter sends the two lines as one message.
    const box = customer.getByRole("textbox", { name: "Message", exact: true });
    const tag = uniq("m");
    await box.fill(`First line ${tag}`);
    await box.press("Shift+Enter");
    await box.pressSequentially("second line");
    assert.equal(await box.inputValue(), `First line ${tag}\nsecond line`, "Shift+Enter adds a newline, sends nothing");
    await box.press("Enter");
    await expectOneMessage(admin, `First line ${tag}`);
    await eventually(async () => {
      const stored = await listMessages(node, adminToken(), conv.id);
      assert.deepEqual(
        stored.filter((m) => m.content.includes(tag)).map((m) => m.content),
        [`First line ${tag}\nsecond line`],
      );
    });
    assert.equal(await box.inputValue(), "", "the composer is empty after sending");
  });

  uiTest(S, "a message with HTML shows as literal text on both sides", async (st) => {
    const { conv, customer, admin } = await customerAndAdmin(st, "bk_xss");
    const dialogs = [];
    for (const page of [customer, admin]) {
      page.on("dialog", async (d) => {
        dialogs.push(d.message());
        await d.dismiss().catch(() => {});
      });
    }
    const payload = "<img src=x onerror=alert(1)>";
    await sendFromComposer(customer, payload);
    for (const [who, page] of [
      ["customer", customer],
      ["admin", admin],
    ]) {
      const item = await expectOneMessage(page, payload);
      assert.equal(
        await item.getByText(payload, { exact: true }).count(),
        1,
        `the ${who} sees the literal text as a text node of its own`,
      );
      assert.equal(await messagesLog(page).locator("img").count(), 0, `no img element in the ${who}'s log`);
      assert.equal(await page.locator('img[src="x"]').count(), 0, `no img src=x anywhere on the ${who}'s page`);
    }
    // The inbox's last-message preview is text too.
    const list = admin.getByRole("list", { name: "Conversations", exact: true });
    assert.equal(await list.locator("img").count(), 0, "no img element in the conversation list");

    const stored = await listMessages(st.node, adminToken(), conv.id);
    assert.deepEqual(
      stored.map((m) => m.content),
      [payload],
      "stored exactly as typed",
    );
    await sleep(500);
    assert.deepEqual(dialogs, [], "no dialog fired");
  });

  uiTest(S, "older messages load on scrolling to the top, each once, in order", async (st, t) => {
    const node = st.node;
    const b = await freshBooking(node, "bk_older");
    const conv = await openConversation(node, b.customer, b.booking);
    const text = (i) => `Seed m-${String(i).padStart(2, "0")} about the stay`;
    for (let i = 1; i <= 60; i += 1) {
      await sendMessage(node, b.customer, conv.id, text(i));
    }
    const page = await st.newPage(node.chatUrl(b.booking, b.customer));
    const log = messagesLog(page);
    await expectOneMessage(page, text(60));
    const items = log.getByRole("listitem");
    await eventually(async () => assert.equal(await items.count(), 50, "the newest 50 messages show first"));
    assert.equal(await messageItems(page, text(11)).count(), 1, "message 11 is among the newest 50");
    assert.equal(await messageItems(page, text(10)).count(), 0, "message 10 is not loaded yet");

    // Scroll the log (and whatever scrolls it) to the top, with the wheel as a person would.
    await log.hover();
    for (let i = 0; i < 10; i += 1) await page.mouse.wheel(0, -5000);
    await log.evaluate((el) => {
      for (let e = el; e; e = e.parentElement) if (e.scrollHeight > e.clientHeight) e.scrollTop = 0;
    });
    const first = messageItems(page, text(1));
    try {
      await first.waitFor({ state: "attached", timeout: 5000 });
    } catch {
      t.diagnostic("scrolling to the top did not load older messages within 5 s; pressing 'Load older messages'");
      await page.getByRole("button", { name: "Load older messages", exact: true }).click();
      await first.waitFor({ state: "attached", timeout: 5000 });
    }

    await eventually(async () => {
      const texts = await items.allInnerTexts();
      const seqs = texts.map((s) => {
        const m = s.match(/m-(\d\d)/);
        return m ? Number(m[1]) : null;
      });
      assert.deepEqual(
        seqs,
        Array.from({ length: 60 }, (_, i) => i + 1),
        "all 60 messages, each exactly once, oldest first",
      );
    });
    assert.equal(
      await page.getByRole("button", { name: "Load older messages", exact: true }).count(),
      0,
      "no 'Load older messages' once everything is loaded",
    );
  });

  uiTest(S, "phone width: a long unbroken word causes no horizontal scrolling", async (st) => {
    const node = st.node;
    const b = await freshBooking(node, "bk_phone");
    const conv = await openConversation(node, b.customer, b.booking);
    const word = "Supercalifragilistic".repeat(15); // 300 characters, no break opportunity
    assert.equal(word.length, 300);
    await sendMessage(node, adminToken(), conv.id, word);
    const page = await st.newPage(node.chatUrl(b.booking, b.customer), {
      viewport: { width: 360, height: 740 },
      deviceScaleFactor: 2,
      hasTouch: true,
    });
    await expectOneMessage(page, word);
    const widths = await page.evaluate(() => ({
      doc: document.documentElement.scrollWidth,
      body: document.body.scrollWidth,
    }));
    assert.ok(widths.doc <= 360, `document scrollWidth ${widths.doc} > 360`);
    assert.ok(widths.body <= 360, `body scrollWidth ${widths.body} > 360`);
    const log = messagesLog(page);
    const box = page.getByRole("textbox", { name: "Message", exact: true });
    assert.equal(await log.isVisible(), true, "the log is visible");
    assert.equal(await box.isVisible(), true, "the Message textbox is visible");
    for (const [what, loc] of [
      ["log", log],
      ["Message textbox", box],
      ["Send button", page.getByRole("button", { name: "Send", exact: true })],
      ["long message", messageItems(page, word).first()],
    ]) {
      const bb = await loc.boundingBox();
      assert.ok(bb, `${what} has a box`);
      assert.ok(bb.x >= 0 && bb.x + bb.width <= 360.5, `${what} spans x ${bb.x}..${bb.x + bb.width}, outside 0..360`);
    }
    const boxBB = await box.boundingBox();
    assert.ok(boxBB.y + boxBB.height <= 740.5, `the Message textbox ends at y=${boxBB.y + boxBB.height}, below 740`);
    // The page itself cannot be scrolled sideways.
    await page.mouse.wheel(400, 0);
    await sleep(100);
    assert.equal(await page.evaluate(() => window.scrollX), 0, "the page scrolled horizontally");
  });
});
