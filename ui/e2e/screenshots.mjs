// Screenshots for docs/ui.md (run by hand, not a test):
//
//   cd ui && node e2e/screenshots.mjs
//
// Starts the suite's stack (nats-server, one node, Chromium), seeds a short hotel-booking conversation
// (messages, a reply, reactions) and two other conversations, and writes
//   docs/ui-chat.png   the customer's chat, 390x844
//   docs/ui-inbox.png  the admin's inbox with the conversation open, 1280x800
// Uses CONCIERGE_BIN / NATS_SERVER / CHROMIUM like the tests.

import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  Stack,
  adminToken,
  customerToken,
  expectOneMessage,
  messagesLog,
  openConversation,
  openFromInbox,
  react,
  registerBooking,
  sendMessage,
  sleep,
  api,
} from "./harness.mjs";

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "docs");

const stack = await Stack.start();
try {
  const node = stack.node;
  const bo = adminToken("adm_bo", "Bo");

  // Two other conversations, so the inbox looks like a working day.
  const others = [
    ["bk_1038", "cus_chen", "Chen", "Porto Riverside, 2 nights", "Is there parking near the hotel?"],
    ["bk_1040", "cus_maria", "Maria", "Hotel Lumen, Lisbon, 20–22 Mar", "Can I add breakfast for two?"],
  ];
  for (const [booking, sub, name, title, text] of others) {
    await registerBooking(node, booking, sub, title);
    const token = customerToken(sub, [booking], name);
    const conv = await openConversation(node, token, booking);
    await sendMessage(node, token, conv.id, text);
    await sleep(30);
  }

  const booking = "bk_1042";
  const title = "Hotel Lumen, Lisbon, 12–15 Mar";
  await registerBooking(node, booking, "cus_ann", title);
  const ann = customerToken("cus_ann", [booking], "Ann");
  const conv = await openConversation(node, ann, booking);
  const m1 = await sendMessage(
    node,
    ann,
    conv.id,
    "Hi! We land in Lisbon at 9:00 on the 12th. Is an early check-in possible?",
  );
  const m2 = await sendMessage(
    node,
    bo,
    conv.id,
    "Good morning Ann! Your room should be ready by 11:00, and we can keep your luggage until then.",
  );
  const m3 = await sendMessage(node, ann, conv.id, "Perfect, thank you. Could we also have a cot for our daughter?");
  await sendMessage(node, bo, conv.id, "Of course: a cot will be in the room when you arrive.", { replyTo: m3.id });
  const m5 = await sendMessage(node, ann, conv.id, "Wonderful, see you on Thursday!");
  await react(node, ann, conv.id, m2.id, "👍");
  await react(node, bo, conv.id, m5.id, "❤️");
  void m1;
  // The inbox's own: Bo owns it, labels it, and leaves a note the customer never sees.
  const put = async (what, body) => {
    const res = await api(node, "PUT", `/messaging/conversations/${conv.id}/${what}`, { token: bo, body });
    if (res.status !== 200) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  await put("assignee", { userId: "adm_bo" });
  await put("labels", { labels: ["early check-in", "family"] });
  await put("priority", { priority: "high" });
  await sendMessage(node, bo, conv.id, "Cot requested from housekeeping for room 412.", { internal: true });

  // The admin's inbox with the conversation open (this also marks it read: "Seen by Bo").
  const admin = await stack.newPage(node.inboxUrl(bo), { viewport: { width: 1280, height: 800 } });
  await openFromInbox(admin, title);
  await expectOneMessage(admin, "see you on Thursday");

  const customer = await stack.newPage(node.chatUrl(booking, ann), { viewport: { width: 390, height: 844 } });
  await expectOneMessage(customer, "see you on Thursday");
  await customer.getByText("Seen by Bo", { exact: true }).waitFor().catch(() => {});
  await messagesLog(customer).evaluate((el) => el.scrollIntoView({ block: "end" }));
  await sleep(1200); // presence and fonts settle
  await customer.screenshot({ path: path.join(DOCS, "ui-chat.png") });

  await admin.getByText("online", { exact: true }).first().waitFor().catch(() => {});
  await sleep(300);
  await admin.screenshot({ path: path.join(DOCS, "ui-inbox.png") });
  console.log(`wrote ${path.join(DOCS, "ui-chat.png")} and ${path.join(DOCS, "ui-inbox.png")}`);
} finally {
  await stack.close();
}
