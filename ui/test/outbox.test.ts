import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import { Outbox, type Pending } from "../src/outbox";
import type { Message } from "../src/types";
import { message } from "./fixtures";

/** A deliver function the test answers by hand, recording every attempt. */
function harness() {
  const attempts: { pending: Pending; resolve: (m: Message) => void; reject: (e: unknown) => void }[] = [];
  const delivered: Message[] = [];
  const timers: (() => void)[] = [];
  let next = 0;
  const outbox = new Outbox(
    (pending) => new Promise<Message>((resolve, reject) => attempts.push({ pending: { ...pending }, resolve, reject })),
    () => undefined,
    (m) => delivered.push(m),
    () => `cm-${++next}`,
    (fn) => void timers.push(fn),
  );
  return { outbox, attempts, delivered, timers };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("Outbox", () => {
  it("holds a message typed while offline and sends it once when the connection is back", async () => {
    const { outbox, attempts, delivered } = harness();
    outbox.add("c1", "hello", null);
    expect(attempts).toHaveLength(0);
    expect(outbox.items[0].state).toBe("queued");
    outbox.setOnline(true);
    expect(attempts.map((a) => a.pending.clientMessageId)).toEqual(["cm-1"]);
    attempts[0].resolve(message("m1", 1));
    await settle();
    expect(delivered.map((m) => m.id)).toEqual(["m1"]);
    expect(outbox.items).toEqual([]);
  });

  it("retries a send lost with the connection under the same clientMessageId", async () => {
    const { outbox, attempts, delivered } = harness();
    outbox.setOnline(true);
    outbox.add("c1", "hello", "m0");
    outbox.setOnline(false);
    attempts[0].reject(new ApiError(0, "timeout", "The server did not answer in time"));
    await settle();
    expect(outbox.items[0].state).toBe("queued");
    outbox.setOnline(true);
    expect(attempts.map((a) => [a.pending.clientMessageId, a.pending.replyTo])).toEqual([
      ["cm-1", "m0"],
      ["cm-1", "m0"],
    ]);
    attempts[1].resolve(message("m1", 1));
    await settle();
    expect(delivered).toHaveLength(1);
  });

  it("takes the first success of any attempt, once, and ignores a superseded attempt's refusal", async () => {
    const { outbox, attempts, delivered } = harness();
    outbox.setOnline(true);
    outbox.add("c1", "hello", null);
    outbox.setOnline(false);
    outbox.setOnline(true);
    attempts[0].reject(new ApiError(0, "timeout", "The server did not answer in time"));
    await settle();
    expect(outbox.items[0].state).toBe("sending");
    attempts[1].resolve(message("m1", 1));
    await settle();
    expect(delivered.map((m) => m.id)).toEqual(["m1"]);
    expect(outbox.items).toEqual([]);
  });

  it("accepts a late success of the first attempt and ignores the retry's answer", async () => {
    const { outbox, attempts, delivered } = harness();
    outbox.setOnline(true);
    outbox.add("c1", "hello", null);
    outbox.setOnline(false);
    outbox.setOnline(true);
    attempts[0].resolve(message("m1", 1));
    await settle();
    attempts[1].resolve(message("m1", 1));
    await settle();
    expect(attempts).toHaveLength(2);
    expect(delivered.map((m) => m.id)).toEqual(["m1"]);
  });

  it("shows a refusal in the API's words and sends again only when asked", async () => {
    const { outbox, attempts } = harness();
    outbox.setOnline(true);
    outbox.add("c1", "x".repeat(2001), null);
    attempts[0].reject(new ApiError(400, "validation_failed", "content must be at most 2000 characters"));
    await settle();
    expect(outbox.items[0].state).toBe("failed");
    expect(outbox.items[0].error).toBe("content must be at most 2000 characters");
    outbox.setOnline(false);
    outbox.setOnline(true);
    expect(attempts).toHaveLength(1);
    outbox.retry("cm-1");
    expect(attempts).toHaveLength(2);
  });

  it("backs off on 503 and gives up after four attempts while connected", async () => {
    const { outbox, attempts, timers } = harness();
    outbox.setOnline(true);
    outbox.add("c1", "hello", null);
    for (let i = 0; i < 4; i++) {
      attempts[i].reject(new ApiError(503, "unavailable", "The event log cannot take writes right now"));
      await settle();
      timers.shift()?.();
    }
    expect(attempts).toHaveLength(4);
    expect(outbox.items[0].state).toBe("failed");
    expect(outbox.items[0].error).toBe("The event log cannot take writes right now");
  });

  it("settles on the message_sent event even before the ack", async () => {
    const { outbox, attempts, delivered } = harness();
    outbox.setOnline(true);
    outbox.add("c1", "hello", null);
    expect(outbox.settle("cm-1")).toBe(true);
    attempts[0].resolve(message("m1", 1));
    await settle();
    expect(outbox.items).toEqual([]);
    expect(delivered).toHaveLength(0);
  });

  it("sends the uploaded attachments with a blank text, the same ones on every attempt", async () => {
    const { outbox, attempts } = harness();
    const photo = {
      id: "att1",
      url: "/messaging/attachments/att1?exp=1&sig=x",
      filename: "photo.jpg",
      mimetype: "image/jpeg",
      size: 1234,
      thumbnailUrl: null,
      width: 640,
      height: 480,
      durationMs: null,
    };
    outbox.add("c1", "", null, [photo]);
    outbox.setOnline(true);
    attempts[0].reject(new ApiError(503, "unavailable", "try later"));
    await settle();
    outbox.setOnline(false);
    outbox.setOnline(true);
    expect(attempts.map((a) => [a.pending.content, a.pending.attachments.map((x) => x.id)])).toEqual([
      ["", ["att1"]],
      ["", ["att1"]],
    ]);
  });
});
