import { useEffect, useRef, useState } from "preact/hooks";
import { useSession } from "../hooks";
import type { MessageTarget } from "../search";
import type { Session } from "../session";
import { Broadcasts } from "./Broadcasts";
import { ConnectionBanner } from "./ConnectionBanner";
import { ConversationPane } from "./ConversationPane";
import { ErrorNote } from "./ErrorNote";
import { SearchPanel } from "./SearchPanel";
import { SignIn } from "./SignIn";

/** The customer's chat about one booking (`/chat?booking=`), also what the widget frames. */
export function ChatPage({ session, bookingId, embedded }: { session: Session; bookingId: string | null; embedded: boolean }) {
  useSession(session);
  const [conversationId, setConversationId] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [target, setTarget] = useState<MessageTarget | null>(null);
  const openings = useRef(0);

  useEffect(() => {
    if (!bookingId) return;
    let done = false;
    const load = async () => {
      const conversation = await session.api.conversationByBooking(bookingId);
      session.store.upsertConversation(conversation);
      setConversationId(conversation.id);
      await session.open(conversation.id);
    };
    session.refetch = () => {
      load().catch(() => undefined);
    };
    load().catch((e: unknown) => {
      if (!done) setProblem(session.problem(e, "Could not open the conversation"));
    });
    return () => {
      done = true;
    };
  }, [session, bookingId]);

  useEffect(() => {
    if (!embedded) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") window.parent.postMessage({ type: "concierge:close" }, "*");
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [embedded]);

  if (session.connection === "unauthorized") return <SignIn reason={session.refusal} />;
  const conversation = conversationId ? session.store.conversations.get(conversationId) : undefined;

  return (
    <div class={`page chat${embedded ? " embedded" : ""}`}>
      <ConnectionBanner state={session.connection} />
      {embedded ? null : (
        <header class="top">
          <h1>Concierge</h1>
          <span class="who">Signed in as {session.me.name}</span>
        </header>
      )}
      <Broadcasts session={session} />
      {!bookingId ? (
        <p role="alert" class="error">
          {"No booking given: open this page as /chat?booking=<booking id>."}
        </p>
      ) : problem ? (
        <ErrorNote text={problem} />
      ) : conversation ? (
        <>
          <SearchPanel
            key={`search-${conversation.id}`}
            session={session}
            conversationId={conversation.id}
            collapseOnOpen
            onOpen={(hit) =>
              setTarget({ conversationId: hit.conversationId, messageId: hit.messageId, n: ++openings.current })
            }
          />
          <ConversationPane key={conversation.id} session={session} conversation={conversation} target={target} />
        </>
      ) : (
        <p class="note">Opening the conversation…</p>
      )}
    </div>
  );
}
