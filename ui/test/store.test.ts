import { describe, expect, it } from "vitest";
import { newerMessage, Store } from "../src/store";
import { message } from "./fixtures";

const ids = (store: Store) => store.messages("c1").map((m) => m.id);

describe("merging fetched pages with live events", () => {
  it("orders by seq and shows a message seen both live and in a page once", () => {
    const store = new Store();
    store.apply("new_message", { conversationId: "c1", message: message("m3", 30), seq: 30 });
    store.mergePage("c1", [message("m1", 10), message("m2", 20), message("m3", 30)], false, false);
    store.apply("new_message", { conversationId: "c1", message: message("m3", 30), seq: 30 });
    expect(ids(store)).toEqual(["m1", "m2", "m3"]);
  });

  it("puts an older page before what is held and takes its hasMore", () => {
    const store = new Store();
    store.mergePage("c1", [message("m3", 30), message("m4", 40)], true, false);
    store.mergePage("c1", [message("m1", 10), message("m2", 20)], false, true);
    expect(ids(store)).toEqual(["m1", "m2", "m3", "m4"]);
    expect(store.thread("c1").hasMore).toBe(false);
  });

  it("does not let a refetched newest page reset hasMore once older pages are loaded", () => {
    const store = new Store();
    store.mergePage("c1", [message("m2", 20)], true, false);
    store.mergePage("c1", [message("m1", 10)], false, true);
    store.mergePage("c1", [message("m2", 20), message("m3", 30)], true, false);
    expect(store.thread("c1").hasMore).toBe(false);
    expect(ids(store)).toEqual(["m1", "m2", "m3"]);
  });

  it("replaces the thread when a refetched newest page does not reach what it holds (no silent gap)", () => {
    const store = new Store();
    store.mergePage("c1", [message("m1", 10)], false, false);
    store.mergePage("c1", [message("m8", 80), message("m9", 90)], true, false);
    expect(ids(store)).toEqual(["m8", "m9"]);
    expect(store.thread("c1").hasMore).toBe(true);
  });

  it("keeps the newest state: an edit replayed before an older page copy wins", () => {
    const store = new Store();
    const edited = message("m1", 10, { content: "new", isEdited: true, updatedAt: "2026-12-01T10:05:00.000Z" });
    store.apply("message_edited", { conversationId: "c1", message: edited, seq: 12 });
    store.mergePage("c1", [message("m1", 10, { content: "old" })], false, false);
    expect(store.messages("c1")[0].content).toBe("new");
  });

  it("treats a deletion as final even against a later-arriving undeleted copy", () => {
    const deleted = message("m1", 10, { content: "", isDeleted: true, updatedAt: "2026-12-01T10:01:00.000Z" });
    const stale = message("m1", 10, { content: "secret", updatedAt: "2026-12-01T10:09:00.000Z" });
    expect(newerMessage(deleted, stale)).toBe(deleted);
    expect(newerMessage(stale, deleted)).toBe(deleted);
  });
  it("takes the freshly signed attachment URLs of a refetched copy of an unchanged message", () => {
    const store = new Store();
    const signed = (sig: string) => [
      {
        id: "a1",
        url: `/messaging/attachments/a1?exp=1&sig=${sig}`,
        filename: "p.png",
        mimetype: "image/png",
        size: 9,
        thumbnailUrl: `/messaging/attachments/a1/thumbnail?exp=1&sig=${sig}`,
        width: 3,
        height: 3,
        durationMs: null,
      },
    ];
    store.mergePage("c1", [message("m1", 10, { messageType: "image", attachments: signed("old") })], false, false);
    store.mergePage("c1", [message("m1", 10, { messageType: "image", attachments: signed("new") })], false, false);
    expect(store.messages("c1")[0].attachments[0].url).toBe("/messaging/attachments/a1?exp=1&sig=new");
  });
});

describe("events that change part of a message", () => {
  it("adds and removes reactions once, however often the event is replayed", () => {
    const store = new Store();
    store.mergePage("c1", [message("m1", 10)], false, false);
    const added = { conversationId: "c1", messageId: "m1", user: "adm_1", emoji: "👍" };
    store.apply("reaction_added", added);
    store.apply("reaction_added", added);
    expect(store.messages("c1")[0].reactions.map((r) => [r.user, r.emoji])).toEqual([["adm_1", "👍"]]);
    store.apply("reaction_removed", added);
    store.apply("reaction_removed", added);
    expect(store.messages("c1")[0].reactions).toEqual([]);
  });

  it("marks others' messages up to upToSeq read, never the reader's own or later ones", () => {
    const store = new Store();
    store.mergePage(
      "c1",
      [message("m1", 10), message("m2", 20, { sender: "adm_1" }), message("m3", 30)],
      false,
      false,
    );
    store.apply("messages_read", { conversationId: "c1", userId: "adm_1", readAt: "2026-12-01T11:00:00.000Z", upToSeq: 20 });
    store.apply("messages_read", { conversationId: "c1", userId: "adm_1", readAt: "2026-12-01T11:00:01.000Z", upToSeq: 20 });
    const readers = store.messages("c1").map((m) => m.readBy.map((r) => r.user));
    expect(readers).toEqual([["adm_1"], [], []]);
  });

  it("lets a typing indicator lapse when its stop never arrives", () => {
    const store = new Store();
    store.apply("user_typing", { conversationId: "c1", userId: "cus_1", isTyping: true }, 1000);
    expect(store.typists("c1")).toEqual(["cus_1"]);
    expect(store.expireTyping(6999)).toBe(false);
    expect(store.expireTyping(7000)).toBe(true);
    expect(store.typists("c1")).toEqual([]);
  });

  it("keeps a conversation's newer state when an older copy arrives late", () => {
    const store = new Store();
    const base = {
      id: "c1", relatedBooking: "bk", title: "T", participants: [], lastMessage: null,
      unreadCount: 0, unreadCounts: {}, status: "active" as const, createdAt: "2026-12-01T10:00:00.000Z", rating: null,
    };
    store.upsertConversation({ ...base, status: "closed", updatedAt: "2026-12-01T10:02:00.000Z" });
    store.upsertConversation({ ...base, status: "active", updatedAt: "2026-12-01T10:01:00.000Z" });
    expect(store.conversations.get("c1")?.status).toBe("closed");
  });
});
