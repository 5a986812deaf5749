// The API reference at /docs: Swagger UI over /openapi.json, every asset from the node itself (no
// CDN), every operation listed, and a route tried from the page with a token.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { Stack, adminToken, api, uiTest } from "./harness.mjs";

let stack;
const S = () => stack;

before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.close();
});

describe("API reference", () => {
  uiTest(S, "/docs lists every operation and tries one with a token, offline", async (st) => {
    const node = st.node;
    const doc = await (await fetch(node.url("/openapi.json"))).json();
    const operations = Object.values(doc.paths).flatMap((item) => Object.values(item));
    assert.equal(operations.length, 33);

    const context = await st.newContext();
    const requested = [];
    context.on("request", (r) => requested.push(r.url()));
    const page = await context.newPage();
    await page.goto(node.url("/docs/"));
    const blocks = page.locator(".opblock");
    await blocks.first().waitFor();
    assert.equal(await blocks.count(), operations.length);
    assert.equal(await page.locator(".opblock-tag").count(), doc.tags.length);

    await page.locator("button.authorize").first().click();
    await page.locator(".auth-container input").first().fill(adminToken());
    await page.locator(".auth-btn-wrapper button.authorize").click();
    await page.locator(".auth-btn-wrapper button.btn-done").click();

    const stats = page.locator("#operations-admin-getStats");
    await stats.locator(".opblock-summary").click();
    await stats.locator("button.try-out__btn").click();
    await stats.locator("button.execute").click();
    const status = stats.locator(".live-responses-table tbody .response-col_status").first();
    await status.waitFor();
    assert.equal((await status.innerText()).trim(), "200");
    const body = await stats.locator(".live-responses-table tbody .microlight").first().innerText();
    const expected = await api(node, "GET", "/messaging/stats", { token: adminToken() });
    assert.equal(JSON.parse(body).data.totalConversations, expected.body.data.totalConversations);

    const elsewhere = requested.filter((u) => !u.startsWith(node.base) && !u.startsWith("data:"));
    assert.deepEqual(elsewhere, [], "every request of /docs goes to the node itself");
  });
});
