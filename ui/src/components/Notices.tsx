import { anyNameOf, excerpt, useSession } from "../hooks";
import type { Session } from "../session";

/**
 * Toasts for this admin: a note that mentions them (`mentioned`) and a conversation assigned to them
 * (`conversation_assigned`), each with "Open" and "Dismiss".
 */
export function Notices({ session, onOpen }: { session: Session; onOpen: (id: string) => void }) {
  useSession(session);
  const notices = session.store.notices;
  return (
    <div class="notices" role="status" aria-live="polite">
      {notices.map((n) => {
        const title = session.store.conversations.get(n.conversationId)?.title ?? "a conversation";
        const who = anyNameOf(session, n.by);
        return (
          <div key={n.id} class="notice">
            <p>
              {n.kind === "mentioned"
                ? `${who} mentioned you in ${title}: ${excerpt(n.message.content, 80)}`
                : `${who} assigned ${title} to you`}
            </p>
            <button
              type="button"
              class="link"
              onClick={() => {
                session.store.dismissNotice(n.id);
                session.store.notify();
                onOpen(n.conversationId);
              }}
            >
              Open
            </button>
            <button
              type="button"
              class="link"
              onClick={() => {
                session.store.dismissNotice(n.id);
                session.store.notify();
              }}
            >
              Dismiss
            </button>
          </div>
        );
      })}
    </div>
  );
}
