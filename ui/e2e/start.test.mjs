// Signing in: no usable token shows "Sign in needed" (never a blank page); the --dev start page mints a
// token and forwards to the right page.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { Stack, JWT_SECRET, signJwt, uiTest, uniq } from "./harness.mjs";

let stack;
const S = () => stack;

before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.close();
});

async function assertSignInNeeded(page, what) {
  const alert = page.getByRole("alert").filter({ hasText: "Sign in needed" });
  await alert.first().waitFor({ timeout: 10_000 });
  const text = (await alert.first().innerText()).trim();
  assert.ok(text.length > "Sign in needed".length + 10, `${what}: the alert says how to sign in, not only "${text}"`);
  assert.equal(await page.getByRole("textbox", { name: "Message", exact: true }).count(), 0, `${what}: no composer`);
}

describe("sign-in", () => {
  uiTest(S, "chat and inbox without a usable token show 'Sign in needed'", async (st) => {
    const base = st.node.base;
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: "cus_x", role: "customer", name: "Ann", bookings: ["bk_x"] };
    const cases = [
      ["no token", `${base}/chat?booking=bk_x`],
      ["garbage token", `${base}/chat?booking=bk_x#token=garbage`],
      ["garbage JWT-shaped token", `${base}/chat?booking=bk_x#token=aaa.bbb.ccc`],
      ["expired token", `${base}/chat?booking=bk_x#token=${signJwt({ ...claims, exp: now - 3600 })}`],
      [
        "token signed with another secret (401)",
        `${base}/chat?booking=bk_x#token=${signJwt({ ...claims, exp: now + 3600 }, `${JWT_SECRET}-other`)}`,
      ],
      ["inbox, no token", `${base}/inbox`],
      ["inbox, garbage token", `${base}/inbox#token=garbage`],
    ];
    for (const [what, url] of cases) {
      const page = await st.newPage(url);
      await assertSignInNeeded(page, what);
      assert.equal(new URL(page.url()).hash.includes("token="), false, `${what}: the token left the address bar`);
    }
  });

  uiTest(S, "the dev start page signs a customer in and lands on /chat", async (st) => {
    const booking = uniq("bk_dev");
    const page = await st.newPage(`${st.node.base}/`);
    await page.getByRole("heading", { name: "Concierge", exact: true }).waitFor();
    await page.getByRole("textbox", { name: "User id", exact: true }).fill(uniq("cus_dev"));
    await page.getByRole("combobox", { name: "Role", exact: true }).selectOption({ label: "customer" });
    await page.getByRole("textbox", { name: "Display name", exact: true }).fill("Ann");
    await page.getByRole("textbox", { name: "Bookings", exact: true }).fill(booking);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();

    await page.getByRole("textbox", { name: "Message", exact: true }).waitFor({ timeout: 15_000 });
    const url = new URL(page.url());
    assert.equal(url.pathname, "/chat");
    assert.equal(url.searchParams.get("booking"), booking);
    await page.getByRole("heading", { name: `Booking ${booking}`, exact: true }).waitFor();
  });

  uiTest(S, "the dev start page signs an admin in and lands on /inbox", async (st) => {
    const page = await st.newPage(`${st.node.base}/`);
    await page.getByRole("textbox", { name: "User id", exact: true }).fill(uniq("adm_dev"));
    await page.getByRole("combobox", { name: "Role", exact: true }).selectOption({ label: "admin" });
    await page.getByRole("textbox", { name: "Display name", exact: true }).fill("Bo");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("list", { name: "Conversations", exact: true }).waitFor({ timeout: 15_000 });
    assert.equal(new URL(page.url()).pathname, "/inbox");
  });
});
