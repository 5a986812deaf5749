import { useEffect, useReducer, useState } from "preact/hooks";
import type { History } from "../api/client";
import { PendingFiles } from "../attachments";
import { nameOf, useSession } from "../hooks";
import type { MessageTarget } from "../search";
import type { Session } from "../session";
import { visibleMessages } from "../inbox";
import type { Conversation, Message } from "../types";
import { Composer } from "./Composer";
import { HistorySlider } from "./HistorySlider";
import { InboxTools } from "./InboxTools";
import { MessageLog } from "./MessageLog";
import { RatingPrompt } from "./RatingPrompt";

function presenceLine(session: Session, conversation: Conversation): string {
  if (session.me.role === "admin") {
    const customer = conversation.participants.find((p) => p.role === "customer");
    if (!customer) return "";
    return `${customer.name} is ${customer.online ? "online" : "offline"}`;
  }
  const admins = conversation.participants.filter((p) => p.role === "admin");
  return admins.some((p) => p.online) ? "Support is online" : "Support is offline";
}

interface Props {
  session: Session;
  conversation: Conversation;
  /** A search result to open the conversation at (ignored when it is another conversation's). */
  target?: MessageTarget | null;
}

/** An open conversation: header, messages (or its history), typing, and the message box. */
export function ConversationPane({ session, conversation, target = null }: Props) {
  useSession(session);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [history, setHistory] = useState<History | null>(null);
  const admin = session.me.role === "admin";
  const id = conversation.id;
  const thread = session.store.thread(id);
  const typists = session.store.typists(id).filter((u) => u !== session.me.sub);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const [files] = useState(
    () =>
      new PendingFiles(
        (file, onProgress) => session.upload(id, file, onProgress),
        () => redraw(undefined),
        (file) => (/^(image|audio)\//.test(file.type) ? URL.createObjectURL(file) : null),
        (url) => URL.revokeObjectURL(url),
      ),
  );
  useEffect(() => () => files.dispose(), [files]);
  // A file dropped beside the conversation (the header, the list) must not replace the page with it.
  useEffect(() => {
    const keep = (e: DragEvent) => {
      if (e.dataTransfer?.types.includes("Files")) e.preventDefault();
    };
    window.addEventListener("dragover", keep);
    window.addEventListener("drop", keep);
    return () => {
      window.removeEventListener("dragover", keep);
      window.removeEventListener("drop", keep);
    };
  }, []);
  const [dropping, setDropping] = useState(false);
  const carriesFiles = (e: DragEvent) => e.dataTransfer?.types.includes("Files") === true;

  return (
    <section
      class={`pane${dropping ? " dropping" : ""}`}
      aria-labelledby="pane-title"
      onDragOver={(e) => {
        if (history || !carriesFiles(e)) return;
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
        setDropping(true);
      }}
      onDragLeave={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDropping(false);
      }}
      onDrop={(e) => {
        setDropping(false);
        if (history || !carriesFiles(e)) return;
        e.preventDefault();
        files.add([...(e.dataTransfer?.files ?? [])]);
      }}
    >
      <header class="pane-head">
        <div>
          <h2 id="pane-title">{conversation.title}</h2>
          <p class="presence">{presenceLine(session, conversation)}</p>
        </div>
        {admin ? (
          <div class="tools">
            <HistorySlider
              session={session}
              conversationId={id}
              version={conversation.updatedAt}
              onHistory={setHistory}
            />
          </div>
        ) : null}
        {admin ? <InboxTools session={session} conversation={conversation} /> : null}
      </header>
      {conversation.status === "closed" ? <p class="note">This conversation is closed.</p> : null}
      {admin ? null : <RatingPrompt session={session} conversation={conversation} />}
      <MessageLog
        session={session}
        conversationId={id}
        messages={visibleMessages(history ? history.messages : session.store.messages(id), session.me.role)}
        pending={session.outbox.pendingIn(id)}
        hasMore={thread.hasMore}
        readOnly={history !== null}
        onReply={setReplyTo}
        target={target && target.conversationId === id ? target : null}
      />
      <p class="typing" aria-live="polite">
        {typists.map((u) => `${nameOf(session, id, u)} is typing…`).join(" ")}
      </p>
      {history ? null : (
        <Composer
          session={session}
          conversationId={id}
          replyTo={replyTo}
          onCancelReply={() => setReplyTo(null)}
          files={files}
        />
      )}
    </section>
  );
}
