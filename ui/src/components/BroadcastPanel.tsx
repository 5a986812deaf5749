import { useState } from "preact/hooks";
import type { Session } from "../session";
import type { Audience } from "../types";
import { ErrorNote } from "./ErrorNote";

/** Route 13: an announcement to all customers, all admins, or everyone. */
export function BroadcastPanel({ session }: { session: Session }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const [audience, setAudience] = useState<Audience>("customers");
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const send = () => {
    setError(null);
    setResult(null);
    session.api.broadcast(text, audience).then(
      () => {
        setText("");
        setResult("Broadcast sent");
      },
      (e: unknown) => {
        setError(session.problem(e, "Could not send the broadcast"));
      },
    );
  };

  return (
    <div class="broadcast-panel">
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
        Broadcast
      </button>
      {open ? (
        <form
          class="broadcast-form"
          onSubmit={(e) => {
            e.preventDefault();
            send();
          }}
          onKeyDown={(e) => {
            if (e.key === "Escape") setOpen(false);
          }}
        >
          <textarea
            aria-label="Broadcast message"
            rows={2}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
          <label>
            <span class="label">Audience</span>
            <select aria-label="Audience" value={audience} onChange={(e) => setAudience(e.currentTarget.value as Audience)}>
              <option value="all">All</option>
              <option value="customers">Customers</option>
              <option value="admins">Admins</option>
            </select>
          </label>
          <button type="submit" class="primary">
            Send broadcast
          </button>
          <ErrorNote text={error} />
        </form>
      ) : null}
      <span role="status" class="result">
        {result ?? ""}
      </span>
    </div>
  );
}
