import { describe, expect, it } from "vitest";
import { Api, ApiError } from "../src/api/client";
import type { DeadLetter } from "../src/types";
import { attemptsText, failedAtText, withoutDeadLetter } from "../src/webhooks";

const letter = (id: string, fields: Partial<DeadLetter> = {}): DeadLetter => ({
  id,
  url: "https://platform.example/hooks",
  type: "event.message_sent",
  createdAt: "2026-12-01T09:00:00.000Z",
  failedAt: "2026-12-02T09:00:00.000Z",
  attempts: 17,
  lastError: "HTTP 500",
  body: { type: "event.message_sent", timestamp: "2026-12-01T09:00:00.000Z", data: {} },
  ...fields,
});

describe("what the Failed webhooks panel shows", () => {
  it("failedAtText is the moment in local time, date and time to the second", () => {
    const iso = "2026-12-02T09:03:04.000Z";
    expect(failedAtText(iso)).toBe(new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" }));
    expect(failedAtText(iso)).toContain("2026");
    expect(failedAtText(iso)).not.toBe(iso);
  });

  it("failedAtText shows what the server sent when it is not a time", () => {
    expect(failedAtText("soon")).toBe("soon");
  });

  it("attemptsText counts in words", () => {
    expect(attemptsText(1)).toBe("1 attempt");
    expect(attemptsText(0)).toBe("0 attempts");
    expect(attemptsText(17)).toBe("17 attempts");
  });

  it("withoutDeadLetter drops the one queued again and keeps the order of the others", () => {
    const list = [letter("a"), letter("b"), letter("c")];
    expect(withoutDeadLetter(list, "b").map((l) => l.id)).toEqual(["a", "c"]);
    expect(withoutDeadLetter(list, "zz").map((l) => l.id)).toEqual(["a", "b", "c"]);
    expect(list.map((l) => l.id)).toEqual(["a", "b", "c"]);
  });
});

describe("the dead-letter calls", () => {
  function answering(status: number, body: unknown) {
    const seen: Request[] = [];
    const api = new Api("tok", "http://concierge.test", async (request) => {
      seen.push(request);
      return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    });
    return { api, seen };
  }

  it("lists the dead letters and unwraps them", async () => {
    const { api, seen } = answering(200, { success: true, message: "ok", data: { deadLetters: [letter("msg_1")] } });
    expect(await api.failedWebhooks()).toEqual([letter("msg_1")]);
    expect(seen[0].method).toBe("GET");
    expect(seen[0].url).toBe("http://concierge.test/messaging/webhooks/failed");
    expect(seen[0].headers.get("Authorization")).toBe("Bearer tok");
  });

  it("redelivers by the delivery's id", async () => {
    const queued = { id: "msg_1", url: "https://platform.example/hooks", type: "event.message_sent", createdAt: "2026-12-03T09:00:00.000Z" };
    const { api, seen } = answering(202, { success: true, message: "Webhook queued again", data: queued });
    expect(await api.redeliverWebhook("msg_1")).toEqual(queued);
    expect(seen[0].method).toBe("POST");
    expect(seen[0].url).toBe("http://concierge.test/messaging/webhooks/failed/msg_1/redeliver");
  });

  it("turns a 404 into an ApiError in the API's words", async () => {
    const { api } = answering(404, { success: false, message: "dead letter not found", error: "not_found" });
    const error = await api.redeliverWebhook("msg_gone").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, code: "not_found", message: "dead letter not found" });
  });
});
