import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { nameOf, quoteOf } from "../hooks";
import type { Pending } from "../outbox";
import type { MessageTarget } from "../search";
import type { Session } from "../session";
import type { Message } from "../types";
import { MessageItem } from "./MessageItem";
import { ErrorNote } from "./ErrorNote";

interface Props {
  session: Session;
  conversationId: string;
  messages: Message[];
  pending: Pending[];
  hasMore: boolean;
  readOnly: boolean;
  onReply: (message: Message) => void;
  /** A search result to show: older pages load until it is held, then it is scrolled into view and marked. */
  target?: MessageTarget | null;
}

/** The "Seen by" text for the newest own message, or null when nobody has read it yet. */
export function receiptFor(session: Session, conversationId: string, messages: Message[]): [string, string] | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.sender !== session.me.sub || m.isDeleted || m.internal === true) continue;
    if (m.readBy.length === 0) return null;
    const names = m.readBy.map((r) => nameOf(session, conversationId, r.user));
    return [m.id, `Seen by ${names.join(", ")}`];
  }
  return null;
}

/**
 * The conversation's messages, oldest at the top. Scrolling to the top loads older ones (as does the
 * button, for keyboards); the view stays at the bottom as messages arrive unless the person scrolled up.
 */
export function MessageLog({ session, conversationId, messages, pending, hasMore, readOnly, onReply, target = null }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const previousHeight = useRef(0);
  const loadingOlder = useRef(false);
  const [olderError, setOlderError] = useState<string | null>(null);
  const byId = new Map(messages.map((m) => [m.id, m]));
  const receipt = readOnly ? null : receiptFor(session, conversationId, messages);
  // The search result shown (`n` of the opening, so that opening it again scrolls to it again).
  const [found, setFound] = useState<{ id: string; n: number } | null>(null);
  const [targetError, setTargetError] = useState<string | null>(null);
  const scrolledTo = useRef(0);

  const loadOlder = () => {
    if (loadingOlder.current || !hasMore || readOnly) return;
    loadingOlder.current = true;
    previousHeight.current = scroller.current?.scrollHeight ?? 0;
    pinned.current = false;
    setOlderError(null);
    session.loadOlder(conversationId).then(
      () => {
        loadingOlder.current = false;
      },
      (e: unknown) => {
        loadingOlder.current = false;
        previousHeight.current = 0;
        setOlderError(session.problem(e, "Could not load older messages"));
      },
    );
  };

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (previousHeight.current > 0 && !loadingOlder.current) {
      el.scrollTop += el.scrollHeight - previousHeight.current;
      previousHeight.current = 0;
    } else if (pinned.current) {
      el.scrollTop = el.scrollHeight;
    }
  });

  // A search result: load until the message is held (it may be older than the pages loaded).
  useEffect(() => {
    setTargetError(null);
    if (!target || readOnly) {
      setFound(null);
      return;
    }
    let live = true;
    pinned.current = false;
    session.reveal(conversationId, target.messageId).then(
      (held) => {
        if (!live) return;
        if (held) setFound({ id: target.messageId, n: target.n });
        else setTargetError("That message is no longer in this conversation.");
      },
      (e: unknown) => {
        if (live) setTargetError(session.problem(e, "Could not load the message"));
      },
    );
    return () => {
      live = false;
    };
  }, [session, conversationId, target?.messageId, target?.n, readOnly]);

  // …then bring it into view once, in the middle of the log, and give it the focus.
  useLayoutEffect(() => {
    if (!found || scrolledTo.current === found.n) return;
    const item = scroller.current?.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(found.id)}"]`);
    if (!item) return;
    scrolledTo.current = found.n;
    pinned.current = false;
    item.scrollIntoView({ block: "center" });
    item.focus({ preventScroll: true });
  });

  return (
    <div
      class="log"
      ref={scroller}
      role="log"
      aria-label="Messages"
      tabIndex={0}
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        if (el.scrollTop < 40) loadOlder();
      }}
    >
      {hasMore && !readOnly ? (
        <button type="button" class="older" onClick={loadOlder}>
          Load older messages
        </button>
      ) : null}
      <ErrorNote text={olderError} />
      <ErrorNote text={targetError} />
      <ul class="messages">
        {messages.map((m) => (
          <MessageItem
            key={m.id}
            session={session}
            message={m}
            quoted={m.replyTo ? (byId.get(m.replyTo) ?? null) : null}
            receipt={receipt && receipt[0] === m.id ? receipt[1] : null}
            readOnly={readOnly}
            onReply={onReply}
            found={found !== null && found.id === m.id}
          />
        ))}
        {readOnly
          ? null
          : pending.map((p) => (
              <li key={p.clientMessageId} class={`msg mine pending${p.internal ? " note" : ""}`}>
                {p.internal ? <p class="note-label">Internal note</p> : null}
                <div class="meta">
                  <span class="sender">{session.me.name}</span>
                </div>
                {p.replyTo ? <p class="quote">In reply to {quoteOf(session, conversationId, byId.get(p.replyTo))}</p> : null}
                {p.content !== "" ? <p class="content">{p.content}</p> : null}
                {p.attachments.length > 0 ? (
                  <p class="files">
                    {p.attachments.length === 1 ? "Attachment: " : "Attachments: "}
                    {p.attachments.map((a) => a.filename).join(", ")}
                  </p>
                ) : null}
                {p.state === "failed" ? (
                  <div class="actions">
                    <p role="alert" class="error">
                      Not sent: {p.error}
                    </p>
                    <button type="button" onClick={() => session.outbox.retry(p.clientMessageId)}>
                      Retry
                    </button>
                    <button type="button" onClick={() => session.outbox.discard(p.clientMessageId)}>
                      Discard
                    </button>
                  </div>
                ) : (
                  <p class="receipt">Sending…</p>
                )}
              </li>
            ))}
      </ul>
    </div>
  );
}
