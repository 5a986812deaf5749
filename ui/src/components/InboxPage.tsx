import { useEffect, useRef, useState } from "preact/hooks";
import { ANY, type ListQuery } from "../api/client";
import { useSession } from "../hooks";
import type { MessageTarget } from "../search";
import type { Session } from "../session";
import { BroadcastPanel } from "./BroadcastPanel";
import { CannedPanel } from "./CannedPanel";
import { Broadcasts } from "./Broadcasts";
import { ConnectionBanner } from "./ConnectionBanner";
import { ConversationList } from "./ConversationList";
import { ConversationPane } from "./ConversationPane";
import { SignIn } from "./SignIn";
import { ErrorNote } from "./ErrorNote";
import { FailedWebhooksPanel } from "./FailedWebhooksPanel";
import { ListFilters } from "./ListFilters";
import { Notices } from "./Notices";
import { SearchPanel } from "./SearchPanel";

function openFromUrl(): string | null {
  return new URLSearchParams(window.location.search).get("c");
}

/** `/inbox?c=<conversation>&m=<message>`: a search result's message, opened with its conversation. */
function targetFromUrl(n: number): MessageTarget | null {
  const query = new URLSearchParams(window.location.search);
  const conversationId = query.get("c");
  const messageId = query.get("m");
  return conversationId && messageId ? { conversationId, messageId, n } : null;
}

/** The admin inbox (`/inbox`): the live conversation list beside the open conversation. */
export function InboxPage({ session }: { session: Session }) {
  useSession(session);
  const [filter, setFilter] = useState<ListQuery>(ANY);
  const [openId, setOpenId] = useState<string | null>(openFromUrl());
  const openings = useRef(1);
  const [target, setTarget] = useState<MessageTarget | null>(() => targetFromUrl(1));
  const [page, setPage] = useState(1);
  const [pages, setPages] = useState(1);
  const [problem, setProblem] = useState<string | null>(null);

  const loadList = (query: ListQuery, wanted: number) => {
    session.api.conversations(query, wanted).then(
      (result) => {
        for (const c of result.conversations) session.store.upsertConversation(c);
        setPage(result.page);
        setPages(result.pages);
        setProblem(null);
        session.store.notify();
      },
      (e: unknown) => {
        setProblem(session.problem(e, "Could not load conversations"));
      },
    );
  };

  useEffect(() => {
    session.ready().then(() => loadList(filter, 1));
  }, [session, filter]);

  useEffect(() => {
    if (!openId) return;
    let done = false;
    const open = async () => {
      if (!session.store.conversations.has(openId)) {
        session.store.upsertConversation(await session.api.conversation(openId));
      }
      await session.open(openId);
    };
    open().catch((e: unknown) => {
      if (!done) setProblem(session.problem(e, "Could not open it"));
    });
    return () => {
      done = true;
      session.close(openId);
    };
  }, [session, openId]);

  useEffect(() => {
    session.refetch = () => {
      loadList(filter, 1);
      if (openId) session.loadNewest(openId).catch(() => undefined);
    };
  }, [session, filter, openId]);

  useEffect(() => {
    const onPop = () => {
      setOpenId(openFromUrl());
      setTarget(targetFromUrl(++openings.current));
    };
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  const navigate = (id: string | null, messageId: string | null = null) => {
    const at = id && messageId ? `&m=${encodeURIComponent(messageId)}` : "";
    window.history.pushState(null, "", id ? `/inbox?c=${id}${at}` : "/inbox");
    setOpenId(id);
    setTarget(id && messageId ? { conversationId: id, messageId, n: ++openings.current } : null);
  };

  if (session.connection === "unauthorized") return <SignIn reason={session.refusal} />;
  if (session.me.role !== "admin") {
    return (
      <main class="page narrow">
        <p role="alert">The inbox is for support admins. <a href="/">Back to the start page</a></p>
      </main>
    );
  }
  const conversation = openId ? session.store.conversations.get(openId) : undefined;

  return (
    <div class={`page inbox${openId ? " has-open" : ""}`}>
      <ConnectionBanner state={session.connection} />
      <header class="top">
        <h1>Inbox</h1>
        <span class="who">Signed in as {session.me.name}</span>
        <CannedPanel session={session} />
        <BroadcastPanel session={session} />
        <FailedWebhooksPanel session={session} />
      </header>
      <Broadcasts session={session} />
      <Notices session={session} onOpen={(id) => navigate(id)} />
      <ErrorNote text={problem} />
      <div class="columns">
        <nav class="list" aria-label="Conversation list">
          <SearchPanel
            session={session}
            conversationId={null}
            collapseOnOpen={false}
            onOpen={(hit) => navigate(hit.conversationId, hit.messageId)}
          >
            <ListFilters session={session} query={filter} onChange={setFilter} />
            <ConversationList session={session} query={filter} openId={openId} onOpen={(id) => navigate(id)} />
            {page < pages ? (
              <button type="button" onClick={() => loadList(filter, page + 1)}>
                Load more conversations
              </button>
            ) : null}
          </SearchPanel>
        </nav>
        <div class="open">
          {openId ? (
            <button type="button" class="link back" onClick={() => navigate(null)}>
              Back to conversations
            </button>
          ) : null}
          {conversation ? (
            <ConversationPane key={conversation.id} session={session} conversation={conversation} target={target} />
          ) : (
            <p class="note">{openId ? "Opening the conversation…" : "Choose a conversation."}</p>
          )}
        </div>
      </div>
    </div>
  );
}
