// Message search of issue 19 ("Search messages", GET /messaging/search): a customer finds their own
// message, with the word marked, and nothing of another customer's; an admin finds an internal note
// and a message of a conversation that is not open, and a result opens its conversation with that
// message loaded, in view, marked and focused.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe } from "node:test";
import {
  Stack,
  adminToken,
  api,
  eventually,
  freshBooking,
  messagesLog,
  openConversation,
  sendMessage,
  uiTest,
} from "./harness.mjs";

let stack;
const S = () => stack;

before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.close();
});

/** A word found nowhere else: letters only, so that it is one word to the index. */
function uniqueWord(prefix) {
  const letters = [...randomBytes(8)].map((b) => String.fromCharCode(97 + (b % 26))).join("");
  return `${prefix}${letters}`;
}

/** Waits until the route finds `word` for `token` (it is searchable within about a second of its send). */
async function searchable(node, token, word, count = 1) {
  await eventually(
    async () => {
      const res = await api(node, "GET", `/messaging/search?q=${encodeURIComponent(word)}`, { token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.data.results.length, count, `the index finds ${word} ${count} time(s)`);
    },
    { timeout: 10_000, interval: 200 },
  );
}

const searchBox = (page) => page.getByRole("textbox", { name: "Search messages", exact: true });
const results = (page) => page.getByRole("list", { name: "Search results", exact: true });

/** The message listitem a search result opened the conversation at (there is at most one). */
const foundItem = (page) => messagesLog(page).locator('li[aria-current="true"]');

/** Whether `item` lies wholly inside its log's visible box. */
const inView = (item) =>
  item.evaluate((el) => {
    const log = el.closest('[role="log"]').getBoundingClientRect();
    const box = el.getBoundingClientRect();
    return box.top >= log.top - 1 && box.bottom <= log.bottom + 1;
  });

describe("message search", () => {
  uiTest(S, "a customer finds their own message, the word marked, and nothing of another customer's", async (st) => {
    const node = st.node;
    const mine = await freshBooking(node, "bk_search_a");
    const theirs = await freshBooking(node, "bk_search_b");
    const myConv = await openConversation(node, mine.customer, mine.booking);
    const theirConv = await openConversation(node, theirs.customer, theirs.booking);
    const myWord = uniqueWord("quokka");
    const theirWord = uniqueWord("wombat");
    // An emoji and accented letters before the word: the mark must still cover exactly the word.
    const myText = `🎉 Café déjà vu: is the ${myWord} suite free on Friday?`;
    await sendMessage(node, mine.customer, myConv.id, myText);
    await sendMessage(node, mine.customer, myConv.id, "And a late check-out, please.");
    await sendMessage(node, theirs.customer, theirConv.id, `Do you have a ${theirWord} for us?`);
    await searchable(node, mine.customer, myWord);
    await searchable(node, theirs.customer, theirWord);

    const page = await st.newPage(node.chatUrl(mine.booking, mine.customer));
    await page.getByRole("textbox", { name: "Message", exact: true }).waitFor();

    const asked = [];
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.pathname === "/messaging/search") asked.push(url.searchParams.get("q"));
    });

    // Type-ahead: the start of the word, typed key by key, already finds it, the whole word marked;
    // the box asks once typing pauses, with `*` after the word being typed.
    const start = myWord.slice(0, 9);
    await searchBox(page).pressSequentially(start, { delay: 30 });
    const items = results(page).getByRole("listitem");
    await results(page).locator("mark", { hasText: myWord }).waitFor();
    assert.equal(await items.count(), 1, "the prefix finds the one message");
    assert.deepEqual(await items.first().locator("mark").allInnerTexts(), [myWord]);
    assert.equal(asked.at(-1), `${start}*`);
    assert.ok(asked.length < start.length, `not a request per key: ${JSON.stringify(asked)}`);

    // A space ends the word: it is asked for as a whole word.
    const whole = page.waitForRequest((r) => new URL(r.url()).searchParams.get("q") === myWord);
    await searchBox(page).fill(`${myWord} `);
    await whole;
    await page.getByRole("status").filter({ hasText: "1 message found" }).waitFor();
    await page.getByRole("status").filter({ hasText: "1 message found" }).waitFor();
    assert.equal(await items.count(), 1, "exactly one result");
    const result = items.first();
    assert.deepEqual(await result.locator("mark").allInnerTexts(), [myWord], "the word, and only it, is marked");
    assert.equal(
      await result.locator(".hit-snippet").innerText(),
      myText,
      "the snippet is the whole (short) message, as text",
    );
    const resultText = await result.innerText();
    assert.match(resultText, /Ann/, "the result names the sender");
    assert.match(resultText, new RegExp(mine.booking), "the result names the conversation");
    assert.equal(await result.getByText("Internal note").count(), 0);

    // The result opens the message in the log, marked and focused.
    await result.getByRole("button").click();
    await foundItem(page).waitFor();
    assert.match(await foundItem(page).innerText(), new RegExp(myWord));
    assert.equal(await inView(foundItem(page)), true, "the message is in view");
    assert.equal(await foundItem(page).evaluate((el) => document.activeElement === el), true, "it has the focus");

    // Another customer's word: nothing.
    await searchBox(page).fill(theirWord);
    await page.getByText("No messages found", { exact: true }).waitFor();
    assert.equal(await results(page).count(), 0, "no result list");
    assert.ok(!(await page.locator("body").innerText()).includes(theirWord), "their word is nowhere on the page");
  });

  uiTest(S, "an admin finds a note and a message of a conversation not open; a result opens it at the message", async (st) => {
    const node = st.node;
    const bo = adminToken();
    const a = await freshBooking(node, "bk_search_note");
    const b = await freshBooking(node, "bk_search_old");
    const convA = await openConversation(node, a.customer, a.booking);
    const convB = await openConversation(node, b.customer, b.booking);
    const noteWord = uniqueWord("refundnote");
    const oldWord = uniqueWord("balcony");
    await sendMessage(node, a.customer, convA.id, "Can I get my deposit back?");
    const note = await sendMessage(node, bo, convA.id, `Deposit ${noteWord} approved by finance`, { internal: true });
    assert.equal(note.internal, true);
    // The message to find is older than the newest page (50), so opening it must load older pages,
    // and it has 30 before it, so it is at neither end of the log: it must be scrolled to.
    for (let i = 0; i < 30; i += 1) await sendMessage(node, b.customer, convB.id, `Earlier message ${i}`);
    const old = await sendMessage(node, b.customer, convB.id, `Could we have a room with a ${oldWord}?`);
    for (let i = 0; i < 60; i += 1) await sendMessage(node, b.customer, convB.id, `Later message ${i}`);
    await searchable(node, bo, noteWord);
    await searchable(node, bo, oldWord);
    // The customer never finds the note.
    const forCustomer = await api(node, "GET", `/messaging/search?q=${noteWord}`, { token: a.customer });
    assert.equal(forCustomer.status, 200);
    assert.deepEqual(forCustomer.body.data.results, []);

    const page = await st.newPage(node.inboxUrl(bo));
    await page.getByRole("list", { name: "Conversations", exact: true }).waitFor();

    // The note: marked as one in the results; it opens conversation A.
    await searchBox(page).fill(noteWord);
    const noteResult = results(page).getByRole("listitem");
    await results(page).locator("mark", { hasText: noteWord }).waitFor();
    assert.equal(await noteResult.count(), 1);
    await noteResult.first().getByText("Internal note", { exact: true }).waitFor();
    assert.deepEqual(await noteResult.first().locator("mark").allInnerTexts(), [noteWord]);
    await noteResult.first().getByRole("button").click();
    await page.getByRole("heading", { name: a.title, exact: true }).waitFor();
    await eventually(async () => assert.equal(await foundItem(page).count(), 1));
    assert.match(await foundItem(page).innerText(), new RegExp(noteWord));
    await foundItem(page).getByText("Internal note", { exact: true }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get("m"), note.id);

    // A message of conversation B, which is not open, and not among its newest 50.
    await searchBox(page).fill(oldWord);
    const oldResult = results(page).getByRole("listitem");
    // (Wait for this query's result: the note's is still shown for a moment.)
    await results(page).locator("mark", { hasText: oldWord }).waitFor();
    await page.getByRole("status").filter({ hasText: "1 message found" }).waitFor();
    assert.equal(await oldResult.count(), 1);
    const text = await oldResult.first().innerText();
    assert.match(text, new RegExp(b.booking), "the result names its conversation");
    assert.match(text, /Ann/, "and its sender");
    assert.equal(await oldResult.first().getByText("Internal note").count(), 0, "a message is no note");
    await oldResult.first().getByRole("button").click();

    await page.getByRole("heading", { name: b.title, exact: true }).waitFor();
    await eventually(async () => {
      assert.equal(await foundItem(page).count(), 1);
      assert.match(await foundItem(page).innerText(), new RegExp(oldWord));
    });
    const found = foundItem(page);
    assert.equal(await found.getAttribute("data-message-id"), old.id);
    assert.match((await found.getAttribute("class")) ?? "", /\bfound\b/, "it is visibly marked");
    await eventually(async () => assert.equal(await inView(found), true, "the message is in view"));
    assert.equal(await found.evaluate((el) => document.activeElement === el), true, "it has the focus");
    assert.equal(new URL(page.url()).searchParams.get("c"), convB.id);
    // The one result opened: conversation A's note is no longer marked.
    assert.equal(await messagesLog(page).getByText(noteWord).count(), 0);
  });
});
