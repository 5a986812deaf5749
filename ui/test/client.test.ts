import { describe, expect, it } from "vitest";
import { Api, ApiError } from "../src/api/client";
import { message } from "./fixtures";

/** An Api whose fetch records each request and answers with `status` and `body`. */
function answering(status: number, body: unknown) {
  const seen: Request[] = [];
  const api = new Api("tok", "http://concierge.test", async (request) => {
    seen.push(request);
    const text = typeof body === "string" ? body : JSON.stringify(body);
    return new Response(text, { status, headers: { "Content-Type": "application/json" } });
  });
  return { api, seen };
}

describe("the typed API client", () => {
  it("sends the route, query, token and body the document names, and unwraps the envelope", async () => {
    const sent = message("m1", 1, { reactions: [{ user: "cus_1", emoji: "👍", createdAt: "2026-12-01T10:00:00.000Z" }] });
    const { api, seen } = answering(200, { success: true, message: "Reaction added", data: sent });
    expect(await api.react("c1", "m1", "👍")).toEqual(sent);
    expect(seen[0].method).toBe("POST");
    expect(seen[0].url).toBe("http://concierge.test/messaging/conversations/c1/messages/m1/reactions");
    expect(seen[0].headers.get("Authorization")).toBe("Bearer tok");
    expect(seen[0].headers.get("Content-Type")).toBe("application/json");
    expect(await seen[0].json()).toEqual({ emoji: "👍" });

    await api.unreact("c1", "m1", "👍");
    expect(seen[1].method).toBe("DELETE");
    expect(seen[1].url).toBe(
      `http://concierge.test/messaging/conversations/c1/messages/m1/reactions/${encodeURIComponent("👍")}`,
    );
  });

  it("pages messages with a `before` cursor and reads hasMore", async () => {
    const { api, seen } = answering(200, {
      success: true,
      message: "ok",
      data: { messages: [message("m1", 1)], pagination: { page: null, limit: 20, total: 9, pages: 1, hasMore: true } },
    });
    const page = await api.messages("c1", "m9", 20);
    expect(page.hasMore).toBe(true);
    expect(page.messages.map((m) => m.id)).toEqual(["m1"]);
    expect(seen[0].url).toBe("http://concierge.test/messaging/conversations/c1/messages?limit=20&before=m9");
  });

  it("turns a refusal into an ApiError with the API's code and message", async () => {
    const { api } = answering(403, { success: false, message: "Not a participant", error: "forbidden" });
    const error = await api.conversation("c1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 403, code: "forbidden", message: "Not a participant" });
  });

  it("turns an answer that is not the envelope into an internal ApiError", async () => {
    const { api } = answering(502, "<html>Bad gateway</html>");
    const error = await api.conversation("c1").catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: "internal", message: "The server answered 502" });
  });

  it("turns an unreachable server into a retryable network ApiError", async () => {
    const api = new Api("tok", "http://concierge.test", async () => {
      throw new TypeError("fetch failed");
    });
    const error = (await api.setStatus("c1", "closed").catch((e: unknown) => e)) as ApiError;
    expect(error).toMatchObject({ status: 0, code: "network" });
    expect(error.retryable).toBe(true);
  });
});
