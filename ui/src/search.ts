// Message search (issue 19, `GET /messaging/search`), kept apart from the component so that the unit
// tests can check what a person sees: the query sent for what is typed (type-ahead), the snippet cut
// into plain text and <mark> pieces, and the pages of results ("Load more results"). A result is the
// document's SearchResult (src/types.ts), a page the client's SearchPage (src/api/client.ts).

import type { SearchPage } from "./api/client";
import type { SearchResult } from "./types";

/** How long typing must pause before the box searches (Enter searches at once). */
export const SEARCH_DEBOUNCE_MS = 300;

/** The route takes at most 200 characters in `q`. */
export const MAX_QUERY_CHARS = 200;

/** A letter or a digit of any script: a query without one has no word, and the route refuses it. */
const WORD_CHAR = /[\p{L}\p{N}]/u;
/** What a word ends with: a letter, a digit or a combining mark. */
const WORD_END = /[\p{L}\p{N}\p{M}]$/u;

/**
 * The `q` to send for what is in the box, or null when there is nothing to search (blank, or no
 * word in it). Type-ahead: while the person is still typing the last word (the box does not end with
 * a space), that word is sent as a prefix, `word*`, so "chec" already finds "check-out"; once they
 * type a space, the words are sent as they are (whole words). Inside a phrase still open (`"late
 * chec`) the `*` makes its last word a prefix too (the route reads an unclosed quote to the end). No
 * `*` after a closing `"` or an existing `*`, after punctuation, or when it would pass 200 characters.
 */
export function searchQuery(typed: string): string | null {
  const q = typed.trim();
  if (q === "" || !WORD_CHAR.test(q)) return null;
  const finished = /\s$/u.test(typed);
  if (finished || !WORD_END.test(q) || [...q].length >= MAX_QUERY_CHARS) return q;
  return `${q}*`;
}

/** A run of the snippet, marked when it is a match. */
export interface Piece {
  text: string;
  mark: boolean;
}

/**
 * Cuts a snippet into plain and marked pieces by its highlights, counted in code points (an emoji or
 * an accented letter before a match moves it by one, whatever its UTF-16 length). Ranges are clamped
 * to the snippet; an empty one, or one reaching back into an earlier range, is dropped, so a bad
 * range can hide a mark but never text. Adjacent pieces of the same kind are joined.
 */
export function highlightPieces(snippet: string, highlights: readonly (readonly number[])[]): Piece[] {
  const chars = Array.from(snippet);
  const pieces: Piece[] = [];
  const push = (from: number, to: number, mark: boolean) => {
    if (to <= from) return;
    const text = chars.slice(from, to).join("");
    const last = pieces[pieces.length - 1];
    if (last && last.mark === mark) last.text += text;
    else pieces.push({ text, mark });
  };
  let at = 0;
  for (const [rawStart, rawEnd] of highlights) {
    const start = Math.max(at, Math.min(chars.length, Math.trunc(rawStart)));
    const end = Math.min(chars.length, Math.trunc(rawEnd));
    if (!(end > start)) continue;
    push(at, start, false);
    push(start, end, true);
    at = end;
  }
  push(at, chars.length, false);
  return pieces;
}

/** A result's time, date included (results span days): "3 Dec 2026, 10:00" in the person's locale. */
export function hitTimeText(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/**
 * Loads a conversation's pages until a message is held: the newest page when nothing is loaded
 * yet, then older pages while there are more. True when the message is held at the end.
 */
export async function pageUntil(
  held: () => boolean,
  loaded: () => boolean,
  loadNewest: () => Promise<void>,
  loadOlder: () => Promise<boolean>,
): Promise<boolean> {
  if (!loaded()) await loadNewest();
  while (!held()) {
    if (!(await loadOlder())) return held();
  }
  return true;
}

// ---- The results and their pages

export interface SearchView {
  /** The `q` searched, or null when the box has nothing to search. */
  q: string | null;
  /** Every result loaded so far, newest first, each once. */
  results: SearchResult[];
  /** Where the next page starts; null on the last page (or before the first). */
  nextCursor: string | null;
  /** "first" while the first page loads, "more" while "Load more results" does. */
  loading: "first" | "more" | null;
  /** The last request's failure, in the API's words. */
  error: string | null;
  /** True once the first page of `q` is in: with no results, the panel says "No messages found". */
  answered: boolean;
}

const IDLE: SearchView = { q: null, results: [], nextCursor: null, loading: null, error: null, answered: false };

/**
 * What the search panel shows, and the requests behind it. `input` waits for a pause in typing
 * (SEARCH_DEBOUNCE_MS), `submit` searches at once; a new query drops the answers of every earlier
 * one still under way, so results never belong to a query no longer in the box. `more` fetches the
 * next page with `nextCursor` and adds the results not already shown; a failed page keeps what is
 * shown and its cursor, so "Load more results" can be pressed again.
 */
export class Search {
  view: SearchView = IDLE;
  private generation = 0;
  private timer: unknown = null;

  constructor(
    private readonly fetchPage: (q: string, cursor: string | null) => Promise<SearchPage>,
    private readonly onChange: () => void,
    /** The words to show for a failure (null: shown elsewhere, e.g. a sign-in page). */
    private readonly problem: (error: unknown) => string | null,
    private readonly later: (fn: () => void, ms: number) => unknown = (fn, ms) => setTimeout(fn, ms),
    private readonly cancel: (timer: unknown) => void = (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
  ) {}

  /** What is typed in the box: searched after a pause in typing (unless it is the query shown). */
  input(typed: string): void {
    this.clearTimer();
    const q = searchQuery(typed);
    if (q === null) {
      this.run(null);
      return;
    }
    // Another space after a word searches what is shown already.
    if (q === this.view.q && this.view.error === null) return;
    this.timer = this.later(() => {
      this.timer = null;
      this.run(q);
    }, SEARCH_DEBOUNCE_MS);
  }

  /** Enter: searches what is typed at once (again, when it is the query shown). */
  submit(typed: string): void {
    this.clearTimer();
    this.run(searchQuery(typed));
  }

  /** Empties the box's results (and drops any answer still under way). */
  clear(): void {
    this.clearTimer();
    this.run(null);
  }

  /** The next page of the query shown; nothing when there is none or one is loading. */
  more(): void {
    const { q, nextCursor, loading } = this.view;
    if (q === null || nextCursor === null || loading !== null) return;
    const mine = this.generation;
    this.set({ loading: "more", error: null });
    this.fetchPage(q, nextCursor).then(
      (page) => {
        if (mine !== this.generation) return;
        const seen = new Set(this.view.results.map((r) => r.messageId));
        const fresh = page.results.filter((r) => !seen.has(r.messageId));
        this.set({ results: [...this.view.results, ...fresh], nextCursor: page.nextCursor, loading: null });
      },
      (e: unknown) => {
        if (mine !== this.generation) return;
        this.set({ loading: null, error: this.problem(e) });
      },
    );
  }

  /** Stops a pending search (the panel is going away). */
  dispose(): void {
    this.clearTimer();
    this.generation += 1;
  }

  private run(q: string | null): void {
    const mine = ++this.generation;
    if (q === null) {
      this.view = IDLE;
      this.onChange();
      return;
    }
    this.view = { q, results: [], nextCursor: null, loading: "first", error: null, answered: false };
    this.onChange();
    this.fetchPage(q, null).then(
      (page) => {
        if (mine !== this.generation) return;
        this.set({ results: page.results, nextCursor: page.nextCursor, loading: null, answered: true });
      },
      (e: unknown) => {
        if (mine !== this.generation) return;
        this.set({ loading: null, error: this.problem(e) });
      },
    );
  }

  private set(change: Partial<SearchView>): void {
    this.view = { ...this.view, ...change };
    this.onChange();
  }

  private clearTimer(): void {
    if (this.timer !== null) this.cancel(this.timer);
    this.timer = null;
  }
}

/** The status line under the box: "Searching…", "No messages found", "3 messages found"… */
export function resultsText(view: SearchView): string {
  if (view.q === null) return "";
  if (view.loading === "first") return "Searching…";
  if (!view.answered) return "";
  const n = view.results.length;
  if (n === 0) return "No messages found";
  const count = n === 1 ? "1 message found" : `${n} messages found`;
  return view.nextCursor !== null ? `${count} so far` : count;
}

/**
 * A message to open the conversation at (a search result). `n` differs at every opening, so opening
 * the same result again brings it into view again.
 */
export interface MessageTarget {
  conversationId: string;
  messageId: string;
  n: number;
}
