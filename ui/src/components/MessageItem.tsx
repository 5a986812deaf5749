import { useState } from "preact/hooks";
import { nameOf, quoteOf, timeOf } from "../hooks";
import type { Session } from "../session";
import type { Message } from "../types";
import { Attachments } from "./Attachments";
import { ErrorNote } from "./ErrorNote";

export const EMOJIS = ["👍", "❤️", "😂", "🎉"];

interface Props {
  session: Session;
  message: Message;
  /** The message this one replies to, when it is loaded. */
  quoted: Message | null;
  /** "Seen by …" under the newest own message. */
  receipt: string | null;
  /** History shows messages as they were: no actions. */
  readOnly: boolean;
  onReply: (message: Message) => void;
  /** The message a search result opened the conversation at: marked, and focusable to take the focus. */
  found?: boolean;
}

function reactionCounts(message: Message): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of message.reactions) counts.set(r.emoji, (counts.get(r.emoji) ?? 0) + 1);
  return [...counts];
}

/** One message: its text (always as text), reply quote, reactions, receipt and actions. */
export function MessageItem({ session, message, quoted, receipt, readOnly, onReply, found = false }: Props) {
  const [mode, setMode] = useState<"view" | "edit" | "delete">("view");
  const [draft, setDraft] = useState(message.content);
  const [error, setError] = useState<string | null>(null);
  const mine = message.sender === session.me.sub;
  // An admins' note (docs/inbox.md): only its author edits or deletes it, and it takes no reactions.
  const note = message.internal === true;
  const admin = session.me.role === "admin";
  const conversationId = message.conversationId;

  const run = (action: () => Promise<void>, after?: () => void) => {
    setError(null);
    action().then(
      () => after?.(),
      (e: unknown) => {
        setError(session.problem(e, "Something went wrong"));
      },
    );
  };

  return (
    <li
      class={`msg${mine ? " mine" : ""}${note ? " note" : ""}${message.isDeleted ? " deleted" : ""}${found ? " found" : ""}`}
      data-message-id={message.id}
      aria-current={found ? "true" : undefined}
      tabIndex={found ? -1 : undefined}
    >
      {note ? <p class="note-label">Internal note</p> : null}
      <div class="meta">
        <span class="sender">{nameOf(session, conversationId, message.sender)}</span>{" "}
        <time dateTime={message.createdAt}>{timeOf(message.createdAt)}</time>
        {message.isEdited && !message.isDeleted ? <span class="edited"> (edited)</span> : null}
      </div>
      {message.replyTo ? <p class="quote">In reply to {quoteOf(session, conversationId, quoted ?? undefined)}</p> : null}
      {message.isDeleted ? (
        <p class="content gone">Message deleted</p>
      ) : mode === "edit" ? (
        <form
          class="edit"
          onSubmit={(e) => {
            e.preventDefault();
            run(() => session.edit(message, draft), () => setMode("view"));
          }}
        >
          <textarea
            aria-label="Edit message"
            value={draft}
            rows={2}
            onInput={(e) => setDraft(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                e.stopPropagation();
                setMode("view");
              }
            }}
          />
          <button type="submit" class="primary">
            Save
          </button>
          <button type="button" onClick={() => setMode("view")}>
            Cancel
          </button>
        </form>
      ) : message.content !== "" ? (
        <p class="content">{message.content}</p>
      ) : null}
      {message.isDeleted ? null : (
        <Attachments session={session} conversationId={conversationId} attachments={message.attachments} />
      )}
      {message.reactions.length > 0 ? (
        <p class="chips">
          {reactionCounts(message).map(([emoji, count]) => (
            <span key={emoji} class="chip">
              {emoji} {count}
            </span>
          ))}
        </p>
      ) : null}
      {receipt ? <p class="receipt">{receipt}</p> : null}
      <ErrorNote text={error} />
      {readOnly || message.isDeleted ? null : mode === "delete" ? (
        <div class="actions">
          <button type="button" class="danger" onClick={() => run(() => session.remove(message), () => setMode("view"))}>
            Confirm delete
          </button>
          <button type="button" onClick={() => setMode("view")}>
            Cancel
          </button>
        </div>
      ) : mode === "view" ? (
        <div class="actions">
          <button type="button" onClick={() => onReply(message)}>
            Reply
          </button>
          {(note ? [] : EMOJIS).map((emoji) => (
            <button
              key={emoji}
              type="button"
              class="emoji"
              aria-label={`React ${emoji}`}
              aria-pressed={message.reactions.some((r) => r.user === session.me.sub && r.emoji === emoji)}
              onClick={() => run(() => session.toggleReaction(message, emoji))}
            >
              {emoji}
            </button>
          ))}
          {mine ? (
            <button
              type="button"
              onClick={() => {
                setDraft(message.content);
                setMode("edit");
              }}
            >
              Edit
            </button>
          ) : null}
          {mine || (admin && !note) ? (
            <button type="button" onClick={() => setMode("delete")}>
              Delete
            </button>
          ) : null}
        </div>
      ) : null}
    </li>
  );
}
