import { useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { ratingState } from "../inbox";
import type { Session } from "../session";
import type { Conversation } from "../types";
import { ErrorNote } from "./ErrorNote";

const SCORES = [1, 2, 3, 4, 5];

/**
 * The customer's rating of a closed conversation (docs/inbox.md, "Satisfaction"): five stars
 * ("Rate 1 of 5" … "Rate 5 of 5"), an optional comment, "Submit rating"; once rated (or when the
 * server says it already is) "Thanks for your rating", and never the prompt again.
 */
export function RatingPrompt({ session, conversation }: { session: Session; conversation: Conversation }) {
  const [score, setScore] = useState<number | null>(null);
  const [comment, setComment] = useState("");
  const [ratedHere, setRatedHere] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const state = ratingState(conversation, ratedHere);
  if (state === "none") return null;
  if (state === "thanks") {
    return (
      <p class="rating thanks" role="status">
        Thanks for your rating
      </p>
    );
  }

  const submit = () => {
    if (score === null || busy) return;
    setBusy(true);
    setError(null);
    session.api.rate(conversation.id, score, comment.trim() === "" ? null : comment).then(
      (saved) => {
        setBusy(false);
        setRatedHere(true);
        const current = session.store.conversations.get(conversation.id);
        if (current) {
          session.store.upsertConversation({
            ...current,
            rating: { score: saved.score, comment: saved.comment, ratedAt: saved.ratedAt },
          });
          session.store.notify();
        }
      },
      (e: unknown) => {
        setBusy(false);
        // Rated already (from another tab, say): the thanks is what there is to show.
        if (e instanceof ApiError && e.status === 409 && conversation.status === "closed") setRatedHere(true);
        else setError(session.problem(e, "Could not send the rating"));
      },
    );
  };

  return (
    <form
      class="rating"
      aria-labelledby="rating-title"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <p id="rating-title" class="rating-title">
        How did we do? Rate this conversation.
      </p>
      <div class="stars" role="group" aria-label="Rating">
        {SCORES.map((n) => (
          <button
            key={n}
            type="button"
            class={`star${score !== null && n <= score ? " on" : ""}`}
            aria-label={`Rate ${n} of 5`}
            aria-pressed={score === n}
            onClick={() => setScore(n)}
          >
            <span aria-hidden="true">★</span>
          </button>
        ))}
      </div>
      <label class="rating-comment">
        <span class="label">Comment (optional)</span>
        <textarea rows={2} maxLength={1000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      <button type="submit" class="primary" disabled={score === null || busy}>
        Submit rating
      </button>
      <ErrorNote text={error} />
    </form>
  );
}
