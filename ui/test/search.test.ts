import { describe, expect, it } from "vitest";
import { Api, ApiError, type SearchPage } from "../src/api/client";
import {
  highlightPieces,
  hitTimeText,
  MAX_QUERY_CHARS,
  pageUntil,
  resultsText,
  Search,
  SEARCH_DEBOUNCE_MS,
  searchQuery,
} from "../src/search";
import type { SearchResult } from "../src/types";

const hit = (messageId: string, fields: Partial<SearchResult> = {}): SearchResult => ({
  messageId,
  conversationId: "c1",
  bookingId: "bk-1",
  sender: "cus_1",
  createdAt: "2026-12-03T10:00:00.123Z",
  internal: false,
  snippet: `text ${messageId}`,
  highlights: [[0, 4]],
  ...fields,
});

/** The snippet as the panel renders it: marked pieces in brackets. */
const rendered = (snippet: string, highlights: [number, number][]) =>
  highlightPieces(snippet, highlights)
    .map((p) => (p.mark ? `[${p.text}]` : p.text))
    .join("");

describe("the snippet's highlights, in code points", () => {
  it("cuts plain text into the pieces before, in and after a match", () => {
    expect(highlightPieces("the late check-out on Friday", [[4, 8]])).toEqual([
      { text: "the ", mark: false },
      { text: "late", mark: true },
      { text: " check-out on Friday", mark: false },
    ]);
  });

  it("counts an emoji before the match as one character, not two UTF-16 units", () => {
    // "🎉" is one code point (two UTF-16 units): "party" starts at 2.
    expect(highlightPieces("🎉 party at 8", [[2, 7]])).toEqual([
      { text: "🎉 ", mark: false },
      { text: "party", mark: true },
      { text: " at 8", mark: false },
    ]);
    // The same ranges read as UTF-16 offsets would have marked " part".
    expect("🎉 party at 8".slice(2, 7)).toBe(" part");
  });

  it("counts every code point of a joined emoji and of a flag", () => {
    // 👨‍👩‍👧 is 5 code points (three people, two zero-width joiners); 🇫🇷 is 2.
    expect(rendered("👨‍👩‍👧 🇫🇷 family room", [[9, 15]])).toBe("👨‍👩‍👧 🇫🇷 [family] room");
  });

  it("counts an accented letter as one character, and a decomposed one as two", () => {
    expect(rendered("Café déjà vu: late check-out", [[14, 18]])).toBe("Café déjà vu: [late] check-out");
    // "e" + U+0301 COMBINING ACUTE ACCENT: two code points, as the server counts them.
    expect(rendered("Cafe\u0301 late", [[6, 10]])).toBe("Cafe\u0301 [late]");
  });

  it("marks several matches, one at each end, and the cut ends' ellipsis stays text", () => {
    expect(rendered("… check-in at noon, check-out at ten …", [[2, 7], [20, 25]])).toBe(
      "… [check]-in at noon, [check]-out at ten …",
    );
    expect(rendered("late checkout", [[0, 4], [5, 13]])).toBe("[late] [checkout]");
  });

  it("joins touching ranges into one mark", () => {
    expect(highlightPieces("abcdef", [[0, 3], [3, 5]])).toEqual([
      { text: "abcde", mark: true },
      { text: "f", mark: false },
    ]);
  });

  it("never loses text to a bad range: clamped, empty or overlapping ranges only lose their mark", () => {
    expect(rendered("late", [[2, 99]])).toBe("la[te]");
    expect(rendered("late", [[-3, 1]])).toBe("[l]ate");
    expect(rendered("late", [[2, 2], [3, 1]])).toBe("late");
    // A range reaching back into the one before keeps only its new part.
    expect(rendered("a late check", [[2, 6], [4, 8], [9, 12]])).toBe("a [late c]h[eck]");
    for (const ranges of [[[0, 100]], [[5, 2]], [[1, 3], [0, 2]], []] as [number, number][][]) {
      expect(highlightPieces("🎉 é late", ranges).map((p) => p.text).join("")).toBe("🎉 é late");
    }
  });

  it("has no pieces for an empty snippet and one plain piece without highlights", () => {
    expect(highlightPieces("", [[0, 3]])).toEqual([]);
    expect(highlightPieces("no match here", [])).toEqual([{ text: "no match here", mark: false }]);
  });
});

describe("the query sent for what is typed (type-ahead)", () => {
  it("sends nothing for a blank box or one without a word", () => {
    expect(searchQuery("")).toBeNull();
    expect(searchQuery("   ")).toBeNull();
    expect(searchQuery("?!")).toBeNull();
    expect(searchQuery(" - … ")).toBeNull();
  });

  it("makes the word being typed a prefix: `*` after the last word while no space follows it", () => {
    expect(searchQuery("chec")).toBe("chec*");
    expect(searchQuery("  late chec")).toBe("late chec*");
    expect(searchQuery("café")).toBe("café*");
    expect(searchQuery("東京")).toBe("東京*");
    expect(searchQuery("cafe\u0301")).toBe("cafe\u0301*");
    expect(searchQuery("room 12")).toBe("room 12*");
  });

  it("sends finished words as they are once a space follows", () => {
    expect(searchQuery("late ")).toBe("late");
    expect(searchQuery("late check\n")).toBe("late check");
  });

  it("makes the last word of a phrase still open a prefix, as the route reads an unclosed quote to the end", () => {
    expect(searchQuery('"late chec')).toBe('"late chec*');
    expect(searchQuery('"late check ')).toBe('"late check');
  });

  it("adds no `*` after a closed phrase, a prefix already marked, or punctuation", () => {
    expect(searchQuery('"late check"')).toBe('"late check"');
    expect(searchQuery('"late check" fri')).toBe('"late check" fri*');
    expect(searchQuery("chec*")).toBe("chec*");
    expect(searchQuery("really late?")).toBe("really late?");
  });

  it("adds no `*` that would pass the route's 200 characters", () => {
    const full = "a".repeat(MAX_QUERY_CHARS);
    expect(searchQuery(full)).toBe(full);
    const almost = "é".repeat(MAX_QUERY_CHARS - 1);
    expect(searchQuery(almost)).toBe(`${almost}*`);
    expect([...(searchQuery(almost) ?? "")].length).toBe(MAX_QUERY_CHARS);
  });
});

/** A Search whose fetches and timers the test settles by hand. */
function harness() {
  const calls: { q: string; cursor: string | null; resolve: (p: SearchPage) => void; reject: (e: unknown) => void }[] = [];
  const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  let changes = 0;
  const search = new Search(
    (q, cursor) =>
      new Promise<SearchPage>((resolve, reject) => {
        calls.push({ q, cursor, resolve, reject });
      }),
    () => {
      changes += 1;
    },
    (e) => (e instanceof ApiError ? e.message : "Could not search the messages"),
    (fn, ms) => {
      const timer = { fn, ms, cancelled: false };
      timers.push(timer);
      return timer;
    },
    (timer) => {
      (timer as { cancelled: boolean }).cancelled = true;
    },
  );
  const fire = () => {
    for (const t of timers.splice(0)) if (!t.cancelled) t.fn();
  };
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { search, calls, timers, fire, settle, changes: () => changes };
}

describe("searching as one types, and the pages of results", () => {
  it("waits for a pause in typing, then searches once, for the last text only", () => {
    const { search, calls, timers, fire } = harness();
    search.input("c");
    search.input("ch");
    search.input("chec");
    expect(calls).toEqual([]);
    expect(timers.map((t) => [t.ms, t.cancelled])).toEqual([
      [SEARCH_DEBOUNCE_MS, true],
      [SEARCH_DEBOUNCE_MS, true],
      [SEARCH_DEBOUNCE_MS, false],
    ]);
    fire();
    expect(calls.map((c) => [c.q, c.cursor])).toEqual([["chec*", null]]);
    expect(search.view).toMatchObject({ q: "chec*", loading: "first", answered: false, results: [] });
    expect(resultsText(search.view)).toBe("Searching…");
  });

  it("Enter searches at once, and a box emptied clears the results without a request", async () => {
    const { search, calls, timers, settle } = harness();
    search.input("late");
    search.submit("late ");
    expect(timers[0].cancelled).toBe(true);
    expect(calls.map((c) => c.q)).toEqual(["late"]);
    calls[0].resolve({ results: [hit("m1")], nextCursor: null });
    await settle();
    expect(search.view.results.map((r) => r.messageId)).toEqual(["m1"]);
    search.input("");
    expect(search.view).toEqual({ q: null, results: [], nextCursor: null, loading: null, error: null, answered: false });
    search.input("?");
    expect(calls.length).toBe(1);
    expect(resultsText(search.view)).toBe("");
  });

  it("asks nothing again when more typing leaves the query as it is", async () => {
    const { search, calls, timers, fire, settle } = harness();
    search.submit("late ");
    calls[0].resolve({ results: [hit("m1")], nextCursor: null });
    await settle();
    search.input("late  ");
    search.input(" late ");
    expect(timers).toEqual([]);
    search.input("late x");
    fire();
    expect(calls.map((c) => c.q)).toEqual(["late", "late x*"]);
  });

  it("shows only the answer of the query in the box, whatever order the answers come in", async () => {
    const { search, calls, settle } = harness();
    search.submit("late");
    search.submit("early");
    calls[1].resolve({ results: [hit("e1")], nextCursor: null });
    await settle();
    calls[0].resolve({ results: [hit("l1"), hit("l2")], nextCursor: "c2" });
    await settle();
    expect(search.view).toMatchObject({ q: "early*", nextCursor: null, answered: true, loading: null });
    expect(search.view.results.map((r) => r.messageId)).toEqual(["e1"]);
    search.clear();
    expect(search.view.q).toBeNull();
  });

  it("says No messages found for an empty answer", async () => {
    const { search, calls, settle } = harness();
    search.submit("zebra ");
    calls[0].resolve({ results: [], nextCursor: null });
    await settle();
    expect(search.view).toMatchObject({ q: "zebra", results: [], answered: true, error: null });
    expect(resultsText(search.view)).toBe("No messages found");
  });

  it("loads more with nextCursor, adds only results not shown yet, and stops on the last page", async () => {
    const { search, calls, settle } = harness();
    search.submit("check ");
    calls[0].resolve({ results: [hit("m9"), hit("m8")], nextCursor: "cur-2" });
    await settle();
    expect(resultsText(search.view)).toBe("2 messages found so far");

    search.more();
    search.more(); // a second press while loading asks nothing more
    expect(calls.map((c) => [c.q, c.cursor])).toEqual([
      ["check", null],
      ["check", "cur-2"],
    ]);
    expect(search.view.loading).toBe("more");
    calls[1].resolve({ results: [hit("m8"), hit("m7")], nextCursor: null });
    await settle();
    expect(search.view.results.map((r) => r.messageId)).toEqual(["m9", "m8", "m7"]);
    expect(search.view).toMatchObject({ nextCursor: null, loading: null });
    expect(resultsText(search.view)).toBe("3 messages found");

    search.more();
    expect(calls.length).toBe(2);
  });

  it("drops a page of more that arrives after a new query", async () => {
    const { search, calls, settle } = harness();
    search.submit("check ");
    calls[0].resolve({ results: [hit("m9")], nextCursor: "cur-2" });
    await settle();
    search.more();
    search.submit("dog ");
    calls[1].resolve({ results: [hit("m8")], nextCursor: null });
    await settle();
    expect(search.view).toMatchObject({ q: "dog", results: [], loading: "first" });
  });

  it("shows a refusal in the API's words; a failed page keeps the results and its cursor", async () => {
    const { search, calls, settle } = harness();
    search.submit("late ");
    calls[0].reject(new ApiError(400, "validation_failed", "q must be at most 200 characters"));
    await settle();
    expect(search.view).toMatchObject({ q: "late", error: "q must be at most 200 characters", loading: null, answered: false });
    expect(resultsText(search.view)).toBe("");

    search.submit("late ");
    calls[1].resolve({ results: [hit("m2")], nextCursor: "cur-2" });
    await settle();
    expect(search.view.error).toBeNull();
    search.more();
    calls[2].reject(new ApiError(0, "network", "Cannot reach the server"));
    await settle();
    expect(search.view).toMatchObject({ error: "Cannot reach the server", nextCursor: "cur-2", loading: null });
    expect(search.view.results.map((r) => r.messageId)).toEqual(["m2"]);
    search.more();
    expect(calls[3].cursor).toBe("cur-2");
    calls[3].resolve({ results: [hit("m1")], nextCursor: null });
    await settle();
    expect(search.view).toMatchObject({ error: null, nextCursor: null });
    expect(search.view.results.map((r) => r.messageId)).toEqual(["m2", "m1"]);
  });

  it("counts one result in the singular", () => {
    expect(
      resultsText({ q: "x", results: [hit("m1")], nextCursor: null, loading: null, error: null, answered: true }),
    ).toBe("1 message found");
  });
});

describe("opening a result", () => {
  /** A conversation of `total` messages m1…m<total>, loaded newest first `per` at a time. */
  function thread(total: number, per: number) {
    let held = 0;
    let loaded = false;
    const log: string[] = [];
    return {
      log,
      has: (n: number) => () => n > total - held && n <= total,
      loaded: () => loaded,
      newest: async () => {
        log.push("newest");
        loaded = true;
        held = Math.min(total, per);
      },
      older: async () => {
        log.push("older");
        if (held >= total) return false;
        held = Math.min(total, held + per);
        return true;
      },
    };
  }

  it("loads the newest page, then older ones until the message is held", async () => {
    const t = thread(230, 50);
    expect(await pageUntil(t.has(75), t.loaded, t.newest, t.older)).toBe(true);
    expect(t.log).toEqual(["newest", "older", "older", "older"]);
  });

  it("loads nothing when the message is already held", async () => {
    const t = thread(30, 50);
    await t.newest();
    expect(await pageUntil(t.has(3), t.loaded, t.newest, t.older)).toBe(true);
    expect(t.log).toEqual(["newest"]);
  });

  it("is false when the conversation has no such message (every page loaded)", async () => {
    const t = thread(120, 50);
    expect(await pageUntil(t.has(999), t.loaded, t.newest, t.older)).toBe(false);
    expect(t.log).toEqual(["newest", "older", "older", "older"]);
  });

  it("shows a result's time with its date", () => {
    const iso = "2026-12-03T10:00:00.123Z";
    expect(hitTimeText(iso)).toBe(new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }));
    expect(hitTimeText(iso)).toContain("2026");
    expect(hitTimeText("soon")).toBe("soon");
  });
});

describe("the search call", () => {
  function answering(status: number, body: unknown) {
    const seen: Request[] = [];
    const api = new Api("tok", "http://concierge.test", async (request) => {
      seen.push(request);
      return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    });
    return { api, seen };
  }

  it("sends q, the conversation and the cursor, and unwraps the page", async () => {
    const page: SearchPage = { results: [hit("m1", { highlights: [[5, 7]] })], nextCursor: "cur-2" };
    const { api, seen } = answering(200, { success: true, message: "ok", data: page });
    expect(await api.search({ q: "late chec*", conversationId: "c1" })).toEqual(page);
    await api.search({ q: "é 🎉", cursor: "cur-2" });
    expect(seen.map((r) => r.method)).toEqual(["GET", "GET"]);
    expect(seen.map((r) => new URL(r.url).pathname)).toEqual(["/messaging/search", "/messaging/search"]);
    expect(seen.map((r) => Object.fromEntries(new URL(r.url).searchParams))).toEqual([
      { q: "late chec*", conversationId: "c1" },
      { q: "é 🎉", cursor: "cur-2" },
    ]);
    expect(seen[0].headers.get("Authorization")).toBe("Bearer tok");
  });

  it("reads an absent nextCursor as the last page", async () => {
    const { api } = answering(200, { success: true, message: "ok", data: { results: [] } });
    expect(await api.search({ q: "late" })).toEqual({ results: [], nextCursor: null });
  });

  it("turns a 400 into an ApiError in the API's words", async () => {
    const { api } = answering(400, { success: false, message: "cursor must be a nextCursor this server gave", error: "validation_failed" });
    const error = await api.search({ q: "late", cursor: "nope" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, message: "cursor must be a nextCursor this server gave" });
  });
});
