import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { nameOf, quoteOf } from "../hooks";
import type { Pending } from "../outbox";
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
export function MessageLog({ session, conversationId, messages, pending, hasMore, readOnly, onReply }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const previousHeight = useRef(0);
  const loadingOlder = useRef(false);
  const [olderError, setOlderError] = useState<string | null>(null);
  const byId = new Map(messages.map((m) => [m.id, m]));
  const receipt = readOnly ? null : receiptFor(session, conversationId, messages);

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
