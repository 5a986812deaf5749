import type { Session } from "../session";
import type { Conversation, Status } from "../types";
import { excerpt, summaryOf } from "../hooks";

interface Props {
  session: Session;
  filter: Status | null;
  openId: string | null;
  onOpen: (id: string) => void;
}

/** Every conversation the store holds that passes the filter, newest activity first. */
export function visibleConversations(all: Iterable<Conversation>, filter: Status | null): Conversation[] {
  return [...all]
    .filter((c) => filter === null || c.status === filter)
    .sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt) || (a.id < b.id ? 1 : -1));
}

export function ConversationList({ session, filter, openId, onOpen }: Props) {
  const list = visibleConversations(session.store.conversations.values(), filter);
  return (
    <ul class="conversations" aria-label="Conversations">
      {list.length === 0 ? <li class="empty">No conversations</li> : null}
      {list.map((c) => {
        const customer = c.participants.find((p) => p.role === "customer");
        return (
          <li key={c.id} class={c.id === openId ? "current" : ""}>
            <a
              href={`/inbox?c=${c.id}`}
              aria-current={c.id === openId ? "page" : undefined}
              onClick={(e) => {
                if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
                e.preventDefault();
                onOpen(c.id);
              }}
            >
              {c.title}
            </a>
            <span class={`presence-dot${customer?.online ? " on" : ""}`}>
              {customer?.online ? "online" : "offline"}
            </span>
            {c.unreadCount > 0 ? <span class="unread">{c.unreadCount} unread</span> : null}
            <p class="last">
              {c.lastMessage ? excerpt(summaryOf(c.lastMessage), 60) : "No messages yet"}
              {c.status !== "active" ? ` · ${c.status}` : ""}
            </p>
          </li>
        );
      })}
    </ul>
  );
}
