import { anyNameOf, useSession } from "../hooks";
import type { Session } from "../session";

/** Announcements from support (`admin_broadcast`), newest last. */
export function Broadcasts({ session }: { session: Session }) {
  useSession(session);
  const list = session.store.broadcasts;
  if (list.length === 0) return null;
  return (
    <div class="broadcasts" role="status" aria-live="polite">
      {list.map((b) => (
        <p key={b.id} class="broadcast">
          Broadcast from {anyNameOf(session, b.from)}: {b.content}
        </p>
      ))}
    </div>
  );
}
