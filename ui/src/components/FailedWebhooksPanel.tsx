import { useRef, useState } from "preact/hooks";
import type { Session } from "../session";
import type { DeadLetter } from "../types";
import { attemptsText, failedAtText, withoutDeadLetter } from "../webhooks";
import { ErrorNote } from "./ErrorNote";

/**
 * "Failed webhooks": the webhook deliveries that failed until `WEBHOOK_MAX_AGE` (the dead letters,
 * oldest failure first), each with "Send again", which queues it again; and "Refresh".
 */
export function FailedWebhooksPanel({ session }: { session: Session }) {
  const [open, setOpen] = useState(false);
  const [letters, setLetters] = useState<DeadLetter[] | null>(null);
  const [sending, setSending] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);
  // Answers of a load older than the last load or redelivery are dropped (they could show a letter
  // queued again meanwhile).
  const generation = useRef(0);

  const load = () => {
    const mine = ++generation.current;
    setError(null);
    session.api.failedWebhooks().then(
      (list) => {
        if (mine === generation.current) setLetters(list);
      },
      (e: unknown) => {
        if (mine === generation.current) setError(session.problem(e, "Could not load the failed webhooks"));
      },
    );
  };

  const toggle = () => {
    if (!open) {
      setResult(null);
      load();
    }
    setOpen(!open);
  };

  const sendAgain = (letter: DeadLetter) => {
    setError(null);
    setResult(null);
    setSending(letter.id);
    session.api.redeliverWebhook(letter.id).then(
      () => {
        generation.current += 1;
        setLetters((list) => withoutDeadLetter(list ?? [], letter.id));
        setSending(null);
        setResult("Queued again");
      },
      (e: unknown) => {
        setSending(null);
        setError(session.problem(e, "Could not send it again"));
      },
    );
  };

  return (
    <div class={`webhooks-panel${open ? " expanded" : ""}`}>
      <button type="button" aria-expanded={open} onClick={toggle}>
        Failed webhooks
      </button>
      {open ? (
        <section
          class="webhooks-box"
          aria-label="Failed webhooks"
          onKeyDown={(e) => {
            if (e.key === "Escape") setOpen(false);
          }}
        >
          <div class="webhooks-tools">
            <button type="button" onClick={load}>
              Refresh
            </button>
            <span role="status" class="result">
              {result ?? ""}
            </span>
          </div>
          <ErrorNote text={error} />
          {letters === null ? (
            <p class="muted">Loading the failed webhooks…</p>
          ) : letters.length === 0 ? (
            <p class="muted">No failed webhooks.</p>
          ) : (
            <ul class="webhooks-list" aria-label="Failed webhooks">
              {letters.map((l, i) => (
                <li key={l.id}>
                  <p class="webhook-head" id={`failed-webhook-${i}`}>
                    <strong>{l.type}</strong> <span class="muted">to</span> <span class="endpoint">{l.url}</span>
                  </p>
                  <p class="facts">
                    <span>
                      <span class="label">Failed at</span>
                      <time dateTime={l.failedAt}>{failedAtText(l.failedAt)}</time>
                    </span>
                    <span>{attemptsText(l.attempts)}</span>
                    <span>
                      <span class="label">Last error</span>
                      <span class="last-error">{l.lastError}</span>
                    </span>
                  </p>
                  <button
                    type="button"
                    aria-describedby={`failed-webhook-${i}`}
                    disabled={sending === l.id}
                    onClick={() => sendAgain(l)}
                  >
                    Send again
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
      ) : null}
    </div>
  );
}
