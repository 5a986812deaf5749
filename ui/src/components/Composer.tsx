import { useState } from "preact/hooks";
import { excerpt, nameOf } from "../hooks";
import type { Session } from "../session";
import type { Message } from "../types";

interface Props {
  session: Session;
  conversationId: string;
  replyTo: Message | null;
  onCancelReply: () => void;
}

/** The message box: Enter sends, Shift+Enter is a new line; sending works offline (it waits). */
export function Composer({ session, conversationId, replyTo, onCancelReply }: Props) {
  const [text, setText] = useState("");

  const submit = () => {
    if (text.trim() === "") return;
    session.send(conversationId, text, replyTo?.id ?? null);
    setText("");
    onCancelReply();
  };

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {replyTo ? (
        <div class="replying">
          <span>
            Replying to {nameOf(session, conversationId, replyTo.sender)}: {excerpt(replyTo.content)}
          </span>
          <button type="button" class="link" onClick={onCancelReply}>
            Cancel reply
          </button>
        </div>
      ) : null}
      <div class="row">
        <textarea
          aria-label="Message"
          placeholder="Write a message"
          rows={2}
          value={text}
          onInput={(e) => {
            setText(e.currentTarget.value);
            if (e.currentTarget.value !== "") session.typing(conversationId);
            else session.stopTyping(conversationId);
          }}
          onBlur={() => session.stopTyping(conversationId)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            } else if (e.key === "Escape" && replyTo) {
              e.stopPropagation();
              onCancelReply();
            }
          }}
        />
        <button type="submit" class="primary">
          Send
        </button>
      </div>
    </form>
  );
}
