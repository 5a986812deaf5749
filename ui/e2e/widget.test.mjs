// The embeddable widget on a plain host page of another origin (the node's CLIENT_URL).

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import {
  Stack,
  adminToken,
  eventually,
  expectOneMessage,
  freshBooking,
  listMessages,
  openConversation,
  startHostPage,
  uiTest,
  uniq,
} from "./harness.mjs";

let stack;
let host;
const S = () => stack;

before(async () => {
  host = await startHostPage();
  stack = await Stack.start({ clientUrl: host.origin });
});
after(async () => {
  await stack?.close();
  await host?.close();
});

const attr = (s) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

describe("widget", () => {
  uiTest(S, "the widget on a host page opens, sends, and closes with Escape", async (st) => {
    const node = st.node;
    const b = await freshBooking(node, "bk_widget", { title: "Hotel Lumen, 3 nights" });
    const conv = await openConversation(node, b.customer, b.booking);
    host.html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hotel Lumen: your booking</title></head>
<body><h1>Your stay at Hotel Lumen</h1><p>Check-in from 15:00.</p>
<script src="${node.base}/widget.js" data-booking="${attr(b.booking)}" data-token="${attr(b.customer)}"></script>
</body></html>`;
    const page = await st.newPage(host.origin);
    const open = page.getByRole("button", { name: "Open chat", exact: true });
    const close = page.getByRole("button", { name: "Close chat", exact: true });
    await open.click();
    await close.waitFor();
    assert.equal(await open.count(), 0, "the launcher says Close chat while open");

    const iframe = page.locator('iframe[title="Concierge chat"]');
    await iframe.waitFor({ state: "visible" });
    const frame = page.frameLocator('iframe[title="Concierge chat"]');
    const box = frame.getByRole("textbox", { name: "Message", exact: true });
    await box.waitFor({ timeout: 15_000 });

    const text = `Hi from the booking page ${uniq("m")}`;
    await box.fill(text);
    await box.press("Enter");
    // The frame's own log. Generous: in CI this suite shares two cores with the UI's build and unit
    // tests, and the frame's first connection waits for all of it.
    await expectOneMessage(frame, text, { timeout: 20_000 });
    await eventually(async () => {
      const stored = await listMessages(node, adminToken(), conv.id);
      assert.deepEqual(stored.map((m) => [m.content, m.sender]), [[text, b.customerId]], "stored once, from the customer");
    });

    // Escape inside the iframe (focus is in the textbox) closes the panel and returns focus to the launcher.
    await box.press("Escape");
    await open.waitFor();
    await iframe.waitFor({ state: "hidden" });
    assert.equal(
      await open.evaluate((el) => el.getRootNode().activeElement === el),
      true,
      "focus is back on the launcher",
    );

    // Escape in the host page closes it too.
    await open.click();
    await close.waitFor();
    await iframe.waitFor({ state: "visible" });
    await page.getByRole("heading", { name: "Your stay at Hotel Lumen" }).click();
    await page.keyboard.press("Escape");
    await open.waitFor();
    await iframe.waitFor({ state: "hidden" });
  });
});
