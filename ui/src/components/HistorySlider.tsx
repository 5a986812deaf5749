import { useEffect, useRef, useState } from "preact/hooks";
import type { History } from "../api/client";
import type { Session } from "../session";
import type { LogEvent } from "../types";
import { ErrorNote } from "./ErrorNote";

interface Props {
  session: Session;
  conversationId: string;
  /** Changes whenever the conversation does, so the slider's range follows the log. */
  version: string;
  onHistory: (history: History | null) => void;
}

function describe(event: LogEvent): string {
  const at = new Date(event.at).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
  return `${at}, ${event.type.replace(/_/g, " ")}`;
}

/**
 * Time travel (route 15): one step per event of the conversation's log (route 14); the rightmost
 * step is now, live. Any other step shows the conversation exactly as it stood after that event.
 */
export function HistorySlider({ session, conversationId, version, onHistory }: Props) {
  const [events, setEvents] = useState<LogEvent[]>([]);
  const [position, setPosition] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const request = useRef(0);

  useEffect(() => {
    let stale = false;
    session.api.events(conversationId).then(
      (list) => {
        if (!stale) setEvents(list);
      },
      (e: unknown) => {
        if (!stale) setError(session.problem(e, "Could not load the history"));
      },
    );
    return () => {
      stale = true;
    };
  }, [session, conversationId, version]);

  useEffect(() => {
    setPosition(null);
    onHistory(null);
  }, [conversationId]);

  const now = events.length;
  const value = position ?? now;

  const show = (next: number) => {
    const ticket = ++request.current;
    if (next >= now) {
      setPosition(null);
      onHistory(null);
      return;
    }
    setPosition(next);
    setError(null);
    session.api.history(conversationId, events[next].seq).then(
      (history) => {
        if (ticket === request.current) onHistory(history);
      },
      (e: unknown) => {
        if (ticket === request.current) setError(session.problem(e, "Could not load the history"));
      },
    );
  };

  return (
    <div class="history">
      <label>
        <span class="label">History</span>
        <input
          type="range"
          aria-label="History"
          min={0}
          max={now}
          step={1}
          value={value}
          disabled={now === 0}
          aria-valuetext={value >= now ? "Now" : `As of ${describe(events[value])}`}
          onInput={(e) => show(Number(e.currentTarget.value))}
        />
      </label>
      {value < now ? (
        <p class="asof">
          As of {describe(events[value])}{" "}
          <button type="button" class="link" onClick={() => show(now)}>
            Back to now
          </button>
        </p>
      ) : null}
      <ErrorNote text={error} />
    </div>
  );
}
