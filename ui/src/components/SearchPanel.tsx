import type { ComponentChildren } from "preact";
import { useEffect, useReducer, useRef, useState } from "preact/hooks";
import { highlightPieces, hitTimeText, resultsText, Search } from "../search";
import type { Session } from "../session";
import type { Conversation, SearchResult } from "../types";
import { ErrorNote } from "./ErrorNote";

interface Props {
  session: Session;
  /** Searches this conversation only (the customer's chat); null searches every one the caller may read. */
  conversationId: string | null;
  onOpen: (hit: SearchResult) => void;
  /** Hides the results once one is opened, until the box is used again (the chat, where they cover the log). */
  collapseOnOpen: boolean;
  /** What the panel's place shows while nothing is searched (the inbox's conversation list). */
  children?: ComponentChildren;
}

/**
 * "Search messages": results as the person types (after a pause; Enter at once), newest first, each
 * with its conversation, sender, time and snippet, the matches marked; "Load more results"; "No
 * messages found"; failures in the API's words. A result opens its conversation at the message.
 */
export function SearchPanel({ session, conversationId, onOpen, collapseOnOpen, children }: Props) {
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const [typed, setTyped] = useState("");
  const [expanded, setExpanded] = useState(true);
  const [openedId, setOpenedId] = useState<string | null>(null);
  const [search] = useState(
    () =>
      new Search(
        (q, cursor) => session.api.search({ q, conversationId, cursor }),
        () => redraw(undefined),
        (e) => session.problem(e, "Could not search the messages"),
      ),
  );
  useEffect(() => () => search.dispose(), [search]);
  const view = search.view;

  // Results from conversations the page does not hold (an admin's search reaches them all): each is
  // fetched once, for its title and its participants' names.
  const fetched = useRef(new Map<string, Conversation | null>());
  useEffect(() => {
    for (const hit of view.results) {
      const id = hit.conversationId;
      if (session.store.conversations.has(id) || fetched.current.has(id)) continue;
      fetched.current.set(id, null);
      session.api.conversation(id).then(
        (c) => {
          fetched.current.set(id, c);
          redraw(undefined);
        },
        () => undefined,
      );
    }
  }, [session, view.results]);

  const conversationOf = (id: string) => session.store.conversations.get(id) ?? fetched.current.get(id) ?? null;
  const whereOf = (hit: SearchResult) => {
    const title = conversationOf(hit.conversationId)?.title;
    if (!title) return `Booking ${hit.bookingId}`;
    return title.includes(hit.bookingId) ? title : `${title} · ${hit.bookingId}`;
  };
  const senderOf = (hit: SearchResult) => {
    if (hit.sender === session.me.sub) return session.me.name;
    return conversationOf(hit.conversationId)?.participants.find((p) => p.userId === hit.sender)?.name ?? hit.sender;
  };

  const clear = () => {
    setTyped("");
    setOpenedId(null);
    search.clear();
  };
  const showing = view.q !== null && expanded;
  const status = resultsText(view);

  return (
    <>
      <div class="search" role="search" aria-label="Message search">
        <div class="search-row">
          <input
            type="text"
            aria-label="Search messages"
            placeholder="Search messages"
            autocomplete="off"
            spellcheck={false}
            maxLength={200}
            value={typed}
            onInput={(e) => {
              const value = e.currentTarget.value;
              setTyped(value);
              setExpanded(true);
              search.input(value);
            }}
            onFocus={() => setExpanded(true)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                setExpanded(true);
                search.submit(typed);
              } else if (e.key === "Escape" && typed !== "") {
                // Escape empties the box first; on an empty box it goes on (it closes the widget).
                e.stopPropagation();
                clear();
              }
            }}
          />
          {typed !== "" ? (
            <button type="button" onClick={clear}>
              Clear search
            </button>
          ) : null}
        </div>
        <p class="search-status muted" role="status">
          {showing ? status : ""}
        </p>
        {showing ? (
          <div class="search-box">
            <ErrorNote text={view.error} />
            {view.results.length > 0 ? (
              <ul class="search-results" aria-label="Search results">
                {view.results.map((hit) => (
                  <li
                    key={hit.messageId}
                    class={`hit${hit.internal ? " hit-note" : ""}${hit.messageId === openedId ? " current" : ""}`}
                  >
                    <button
                      type="button"
                      class="hit-open"
                      aria-current={hit.messageId === openedId ? "true" : undefined}
                      onClick={() => {
                        setOpenedId(hit.messageId);
                        if (collapseOnOpen) setExpanded(false);
                        onOpen(hit);
                      }}
                    >
                      {hit.internal ? <span class="note-label">Internal note</span> : null}
                      <span class="hit-meta">
                        <span class="hit-where">{whereOf(hit)}</span>
                        <span class="sender">{senderOf(hit)}</span>
                        <time dateTime={hit.createdAt}>{hitTimeText(hit.createdAt)}</time>
                      </span>
                      <span class="hit-snippet">
                        {highlightPieces(hit.snippet, hit.highlights).map((p, i) =>
                          p.mark ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>,
                        )}
                      </span>
                    </button>
                  </li>
                ))}
              </ul>
            ) : null}
            {view.nextCursor !== null ? (
              <button type="button" class="more" disabled={view.loading === "more"} onClick={() => search.more()}>
                {view.loading === "more" ? "Loading more results…" : "Load more results"}
              </button>
            ) : null}
          </div>
        ) : null}
      </div>
      {showing ? null : children}
    </>
  );
}
