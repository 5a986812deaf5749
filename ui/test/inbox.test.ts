import { describe, expect, it } from "vitest";
import { Api, ANY, ApiError } from "../src/api/client";
import {
  addLabel,
  assigneeOptions,
  cannedMatches,
  durationWords,
  fromLocalInput,
  knownLabels,
  localInputValue,
  matches,
  ratingState,
  removeLabel,
  snoozeChoices,
  snoozeProblem,
  visibleConversations,
  visibleMessages,
  waitingText,
} from "../src/inbox";
import { Outbox } from "../src/outbox";
import { Store } from "../src/store";
import type { CannedReply, Conversation } from "../src/types";
import { message } from "./fixtures";

function conversation(id: string, fields: Partial<Conversation> = {}): Conversation {
  return {
    id,
    relatedBooking: `bk_${id}`,
    title: `Booking ${id}`,
    participants: [],
    status: "active",
    lastMessage: null,
    unreadCount: 0,
    unreadCounts: {},
    createdAt: "2026-12-01T09:00:00.000Z",
    updatedAt: "2026-12-01T10:00:00.000Z",
    rating: null,
    ...fields,
  };
}

const reply = (shortcut: string, title: string, content = `content of ${shortcut}`): CannedReply => ({
  shortcut,
  title,
  content,
  updatedAt: "2026-12-01T10:00:00.000Z",
  updatedBy: "adm_bo",
});

describe("notes never reach a customer's page", () => {
  const note = message("n1", 20, { internal: true, sender: "adm_bo", senderRole: "admin", content: "refund approved" });
  const plain = [message("m1", 10), message("m2", 30, { internal: false })];

  it("visibleMessages drops notes for a customer and keeps them for an admin", () => {
    expect(visibleMessages([plain[0], note, plain[1]], "customer").map((m) => m.id)).toEqual(["m1", "m2"]);
    expect(visibleMessages([plain[0], note, plain[1]], "admin").map((m) => m.id)).toEqual(["m1", "n1", "m2"]);
  });

  it("a customer's store keeps no note, whether it comes live, in a page or edited", () => {
    const store = new Store();
    store.hideNotes = true;
    store.apply("new_message", { conversationId: "c1", message: note, seq: 20 });
    store.apply("message_edited", { conversationId: "c1", message: { ...note, content: "x" }, seq: 21 });
    store.mergePage("c1", [plain[0], note, plain[1]], false, false);
    expect(store.messages("c1").map((m) => m.id)).toEqual(["m1", "m2"]);
  });

  it("an admin's store keeps notes in seq order", () => {
    const store = new Store();
    store.mergePage("c1", [plain[0], plain[1]], false, false);
    store.apply("new_message", { conversationId: "c1", message: note, seq: 20 });
    expect(store.messages("c1").map((m) => m.id)).toEqual(["m1", "n1", "m2"]);
  });
});

describe("notices", () => {
  it("keeps a mention once and not what the user did themself", () => {
    const store = new Store();
    store.selfId = "adm_bo";
    const note = message("n1", 5, { internal: true, sender: "adm_cy", content: "@adm_bo look" });
    store.apply("mentioned", { conversationId: "c1", message: note, by: "adm_cy" });
    store.apply("mentioned", { conversationId: "c1", message: note, by: "adm_cy" });
    store.apply("conversation_assigned", { conversationId: "c1", from: null, to: "adm_bo", by: "adm_bo", seq: 9 });
    expect(store.notices.map((n) => n.kind)).toEqual(["mentioned"]);
    store.dismissNotice(store.notices[0].id);
    expect(store.notices).toEqual([]);
  });
});

describe("the conversation list", () => {
  const me = "adm_bo";
  const all = [
    conversation("a", { assignee: me, labels: ["vip"], priority: "urgent", updatedAt: "2026-12-01T10:05:00.000Z" }),
    conversation("b", { assignee: null, labels: [], priority: "low", waitingSince: "2026-12-01T09:30:00.000Z" }),
    conversation("c", { assignee: "adm_cy", labels: ["vip", "late"], waitingSince: "2026-12-01T09:10:00.000Z", updatedAt: "2026-12-01T10:01:00.000Z" }),
    conversation("d", { status: "snoozed", snoozedUntil: "2026-12-02T09:00:00.000Z", updatedAt: "2026-12-01T10:09:00.000Z" }),
  ];
  const ids = (q: Partial<typeof ANY>) => visibleConversations(all, { ...ANY, ...q }, me).map((c) => c.id);

  it("orders by newest activity by default, and waiting longest first with sort=waiting", () => {
    expect(ids({})).toEqual(["d", "a", "c", "b"]);
    expect(ids({ sort: "waiting" })).toEqual(["c", "b", "d", "a"]);
  });

  it("filters by assignee (mine, unassigned), label, priority and status", () => {
    expect(ids({ assignee: "me" })).toEqual(["a"]);
    expect(ids({ assignee: "none" })).toEqual(["d", "b"]);
    expect(ids({ label: "vip" })).toEqual(["a", "c"]);
    expect(ids({ priority: "normal" })).toEqual(["d", "c"]);
    expect(ids({ priority: "urgent", label: "vip" })).toEqual(["a"]);
    expect(ids({ status: "snoozed" })).toEqual(["d"]);
    expect(matches(all[0], { ...ANY, label: "late" }, me)).toBe(false);
  });

  it("knows the labels in use, sorted", () => {
    expect(knownLabels(all)).toEqual(["late", "vip"]);
  });

  it("says how long the customer has waited", () => {
    const now = Date.parse("2026-12-01T10:00:00.000Z");
    expect(waitingText(null, now)).toBeNull();
    expect(waitingText("2026-12-01T09:59:30.000Z", now)).toBe("waiting less than a minute");
    expect(waitingText("2026-12-01T09:48:00.000Z", now)).toBe("waiting 12 min");
    expect(waitingText("2026-12-01T07:55:00.000Z", now)).toBe("waiting 2 h 5 min");
    expect(waitingText("2026-12-01T08:00:00.000Z", now)).toBe("waiting 2 h");
    expect(waitingText("2026-11-28T06:00:00.000Z", now)).toBe("waiting 3 d 4 h");
    expect(waitingText("2026-12-01T10:00:05.000Z", now)).toBe("waiting less than a minute");
  });

  it("words the response times", () => {
    expect(durationWords(95_200)).toBe("1 min 35 s");
    expect(durationWords(4_000)).toBe("4 s");
    expect(durationWords(120_000)).toBe("2 min");
    expect(durationWords(5_400_000)).toBe("1 h 30 min");
  });
});

describe("canned replies", () => {
  const replies = [reply("refund", "Refund policy"), reply("checkin", "Check-in times"), reply("late", "Late check-out")];

  it("suggests nothing unless the box starts with / and is one word", () => {
    expect(cannedMatches(replies, "")).toBeNull();
    expect(cannedMatches(replies, "hello /ref")).toBeNull();
    expect(cannedMatches(replies, "/ref more")).toBeNull();
  });

  it("lists every reply for a lone /, by shortcut", () => {
    expect(cannedMatches(replies, "/")!.map((r) => r.shortcut)).toEqual(["checkin", "late", "refund"]);
  });

  it("puts shortcuts starting with the text first, then those whose shortcut or title contains it", () => {
    expect(cannedMatches(replies, "/ref")!.map((r) => r.shortcut)).toEqual(["refund"]);
    expect(cannedMatches(replies, "/check")!.map((r) => r.shortcut)).toEqual(["checkin", "late"]);
    expect(cannedMatches(replies, "/CHECK")!.map((r) => r.shortcut)).toEqual(["checkin", "late"]);
    expect(cannedMatches(replies, "/zzz")).toEqual([]);
  });
});

describe("snooze", () => {
  const now = new Date(2026, 11, 3, 14, 30, 15, 500); // Thursday 3 Dec 2026, 14:30 local

  it("offers 1 hour, 4 hours, tomorrow 9:00 and Monday 9:00, local time", () => {
    const choices = Object.fromEntries(snoozeChoices(now).map((c) => [c.label, c.until]));
    expect(choices["1 hour"].getTime() - now.getTime()).toBe(3_600_000);
    expect(choices["4 hours"].getTime() - now.getTime()).toBe(4 * 3_600_000);
    expect(localInputValue(choices["Tomorrow 9:00"])).toBe("2026-12-04T09:00");
    expect(localInputValue(choices["Monday 9:00"])).toBe("2026-12-07T09:00");
    // On a Monday, "Monday" is the next one.
    const monday = snoozeChoices(new Date(2026, 11, 7, 8, 0)).find((c) => c.label === "Monday 9:00")!;
    expect(localInputValue(monday.until)).toBe("2026-12-14T09:00");
  });

  it("reads a datetime-local value as local time and sends RFC 3339 UTC with milliseconds", () => {
    const date = fromLocalInput("2026-12-04T09:00")!;
    expect(localInputValue(date)).toBe("2026-12-04T09:00");
    expect(date.toISOString()).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000Z$/);
    expect(fromLocalInput("")).toBeNull();
    expect(fromLocalInput("tomorrow")).toBeNull();
  });

  it("refuses a time in the past or more than 365 days ahead", () => {
    expect(snoozeProblem(null, now)).toMatch(/Choose/);
    expect(snoozeProblem(new Date(now.getTime() - 1000), now)).toMatch(/future/);
    expect(snoozeProblem(new Date(now.getTime() + 366 * 86_400_000), now)).toMatch(/365/);
    expect(snoozeProblem(new Date(now.getTime() + 60_000), now)).toBeNull();
  });
});

describe("labels", () => {
  it("adds trimmed labels once, refuses blank, long, control characters and the 21st", () => {
    expect(addLabel(["vip"], "  late check-out ")).toEqual({ labels: ["vip", "late check-out"] });
    const same = ["vip"];
    expect(addLabel(same, "vip")).toEqual({ labels: same });
    expect(addLabel([], "   ")).toHaveProperty("error");
    expect(addLabel([], "x".repeat(33))).toHaveProperty("error");
    expect(addLabel([], "é".repeat(32))).toEqual({ labels: ["é".repeat(32)] });
    expect(addLabel([], "a\u0007b")).toHaveProperty("error");
    expect(addLabel(Array.from({ length: 20 }, (_, i) => `l${i}`), "more")).toHaveProperty("error");
    expect(removeLabel(["a", "b", "c"], "b")).toEqual(["a", "c"]);
  });
});

describe("the Assignee choices", () => {
  it("offers Unassigned, me, the admins of the conversation and the assignees seen, each once", () => {
    const open = conversation("a", {
      assignee: "adm_dee",
      participants: [
        { userId: "cus_1", role: "customer", name: "Ann", joinedAt: "2026-12-01T09:00:00.000Z", lastSeen: null },
        { userId: "adm_bo", role: "admin", name: "Bo", joinedAt: "2026-12-01T09:00:00.000Z", lastSeen: null },
        { userId: "adm_cy", role: "admin", name: "Cy", joinedAt: "2026-12-01T09:00:00.000Z", lastSeen: null },
      ],
    });
    const others = [open, conversation("b", { assignee: "adm_eve" }), conversation("c", { assignee: "adm_cy" })];
    const options = assigneeOptions(open, others, { sub: "adm_bo", name: "Bo" }, (id) => id.replace("adm_", "").toUpperCase());
    expect(options).toEqual([
      { value: "", label: "Unassigned" },
      { value: "adm_bo", label: "Me (Bo)" },
      { value: "adm_cy", label: "Cy" },
      { value: "adm_dee", label: "DEE" },
      { value: "adm_eve", label: "EVE" },
    ]);
  });
});

describe("the rating prompt", () => {
  it("shows nothing until closed, then the prompt, then the thanks for good", () => {
    expect(ratingState(conversation("a"), false)).toBe("none");
    expect(ratingState(conversation("a", { status: "closed", rating: null }), false)).toBe("prompt");
    expect(ratingState(conversation("a", { status: "closed" }), true)).toBe("thanks");
    const rated = { score: 5, comment: null, ratedAt: "2026-12-01T11:00:00.000Z" };
    expect(ratingState(conversation("a", { status: "closed", rating: rated }), false)).toBe("thanks");
    expect(ratingState(conversation("a", { status: "active", rating: rated }), false)).toBe("thanks");
  });
});

describe("the inbox's calls", () => {
  function answering(status: number, body: unknown) {
    const seen: Request[] = [];
    const api = new Api("tok", "http://concierge.test", async (request) => {
      seen.push(request);
      return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    });
    return { api, seen };
  }
  const ok = (data: unknown) => ({ success: true, message: "ok", data });

  it("sends the routes and bodies of docs/inbox.md", async () => {
    const { api, seen } = answering(200, ok(conversation("c1")));
    await api.setAssignee("c1", "adm_bo");
    await api.setAssignee("c1", null);
    await api.setLabels("c1", ["vip"]);
    await api.setPriority("c1", "urgent");
    await api.setStatus("c1", "snoozed", "2026-12-04T09:00:00.000Z");
    await api.setStatus("c1", "active");
    const calls = await Promise.all(seen.map(async (r) => [r.method, new URL(r.url).pathname, await r.json()]));
    expect(calls).toEqual([
      ["PUT", "/messaging/conversations/c1/assignee", { userId: "adm_bo" }],
      ["PUT", "/messaging/conversations/c1/assignee", { userId: null }],
      ["PUT", "/messaging/conversations/c1/labels", { labels: ["vip"] }],
      ["PUT", "/messaging/conversations/c1/priority", { priority: "urgent" }],
      ["PUT", "/messaging/conversations/c1/status", { status: "snoozed", until: "2026-12-04T09:00:00.000Z" }],
      ["PUT", "/messaging/conversations/c1/status", { status: "active" }],
    ]);
    expect(seen[0].headers.get("Authorization")).toBe("Bearer tok");
  });

  it("lists with the filters as query parameters", async () => {
    const { api, seen } = answering(200, ok({ conversations: [], pagination: { page: 2, pages: 3 } }));
    const page = await api.conversations({ status: "snoozed", assignee: "me", label: "late check-out", priority: "high", sort: "waiting" }, 2);
    expect(page).toEqual({ conversations: [], page: 2, pages: 3 });
    const url = new URL(seen[0].url);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      page: "2",
      limit: "50",
      status: "snoozed",
      assignee: "me",
      label: "late check-out",
      priority: "high",
      sort: "waiting",
    });
    await api.conversations(ANY, 1);
    expect(Object.fromEntries(new URL(seen[1].url).searchParams)).toEqual({ page: "1", limit: "50" });
  });

  it("sends a note with internal: true, rates, and manages canned replies", async () => {
    const { api, seen } = answering(201, ok({ cannedReplies: [] }));
    await api.send("c1", { content: "n", replyTo: null, clientMessageId: "k1", internal: true });
    await api.rate("c1", 5, "great");
    await api.rate("c1", 4, null);
    await api.cannedReplies();
    await api.putCannedReply("refund", "Refund", "We refund within 5 days.");
    await api.deleteCannedReply("refund");
    const calls = await Promise.all(
      seen.map(async (r) => [r.method, new URL(r.url).pathname, r.method === "GET" || r.method === "DELETE" ? null : await r.json()]),
    );
    expect(calls).toEqual([
      ["POST", "/messaging/conversations/c1/messages", { content: "n", messageType: "text", replyTo: null, clientMessageId: "k1", internal: true }],
      ["POST", "/messaging/conversations/c1/rating", { score: 5, comment: "great" }],
      ["POST", "/messaging/conversations/c1/rating", { score: 4 }],
      ["GET", "/messaging/canned-replies", null],
      ["PUT", "/messaging/canned-replies/refund", { title: "Refund", content: "We refund within 5 days." }],
      ["DELETE", "/messaging/canned-replies/refund", null],
    ]);
  });

  it("turns a refusal into an ApiError in the API's words", async () => {
    const { api } = answering(409, { success: false, message: "Already rated", error: "conflict" });
    const error = await api.rate("c1", 5, null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(409);
    expect((error as ApiError).message).toBe("Already rated");
  });
});

describe("the outbox and notes", () => {
  it("a note carries no attachments and keeps its flag", () => {
    const outbox = new Outbox(
      () => new Promise(() => {}),
      () => {},
      () => {},
      () => "k1",
    );
    const file = { id: "f1" } as never;
    const pending = outbox.add("c1", "for admins", null, [file], true);
    expect(pending.internal).toBe(true);
    expect(pending.attachments).toEqual([]);
    expect(outbox.add("c1", "hi", null, [file]).internal).toBe(false);
  });
});
