import { useEffect, useReducer } from "preact/hooks";
import type { ListQuery } from "../api/client";
import { anyNameOf, excerpt, summaryOf } from "../hooks";
import { priorityLabel, priorityOf, visibleConversations, waitingText } from "../inbox";
import type { Session } from "../session";
import { snoozedText } from "./InboxTools";

interface Props {
  session: Session;
  query: ListQuery;
  openId: string | null;
  onOpen: (id: string) => void;
}

/** Every conversation the store holds that passes the filters, in the chosen order. */
export function ConversationList({ session, query, openId, onOpen }: Props) {
  // The waiting times move on while nothing else happens.
  const [, tick] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    const timer = setInterval(() => tick(undefined), 30_000);
    return () => clearInterval(timer);
  }, []);
  const now = Date.now();
  const list = visibleConversations(session.store.conversations.values(), query, session.me.sub);
  return (
    <ul class="conversations" aria-label="Conversations">
      {list.length === 0 ? <li class="empty">No conversations</li> : null}
      {list.map((c) => {
        const customer = c.participants.find((p) => p.role === "customer");
        const priority = priorityOf(c);
        const waiting = waitingText(c.waitingSince, now);
        const labels = c.labels ?? [];
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
            <p class="triage-line">
              <span class={`priority p-${priority}`}>Priority: {priorityLabel(priority)}</span>
              {waiting ? <span class="waiting">{waiting}</span> : null}
              {c.assignee ? (
                <span class="assigned">
                  {c.assignee === session.me.sub ? "Assigned to me" : `Assigned to ${anyNameOf(session, c.assignee)}`}
                </span>
              ) : null}
              {c.status === "snoozed" && c.snoozedUntil ? <span class="snoozed">{snoozedText(c.snoozedUntil)}</span> : null}
            </p>
            {labels.length > 0 ? (
              <ul class="label-chips" aria-label={`Labels of ${c.title}`}>
                {labels.map((l) => (
                  <li key={l} class="chip">
                    {l}
                  </li>
                ))}
              </ul>
            ) : null}
          </li>
        );
      })}
    </ul>
  );
}
