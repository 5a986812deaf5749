import { useState } from "preact/hooks";
import { anyNameOf } from "../hooks";
import {
  addLabel,
  assigneeOptions,
  durationWords,
  fromLocalInput,
  localInputValue,
  PRIORITIES,
  priorityOf,
  removeLabel,
  rfc3339,
  snoozeChoices,
  snoozeProblem,
} from "../inbox";
import type { Session } from "../session";
import type { Conversation, Priority, Status } from "../types";
import { ErrorNote } from "./ErrorNote";

const STATUSES: [Status, string][] = [
  ["active", "Active"],
  ["snoozed", "Snoozed"],
  ["archived", "Archived"],
  ["closed", "Closed"],
];

/** "Snoozed until Fri 4 Dec, 09:00" in the person's own time. */
export function snoozedText(until: string): string {
  const date = new Date(until);
  return `Snoozed until ${date.toLocaleString([], {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  })}`;
}

interface Props {
  session: Session;
  conversation: Conversation;
}

/**
 * The admin's controls of the open conversation (docs/inbox.md): "Status", "Assignee", "Priority",
 * "Snooze" and its picker, the labels, and what the conversation's numbers say.
 */
export function InboxTools({ session, conversation }: Props) {
  const id = conversation.id;
  const [error, setError] = useState<string | null>(null);
  const [snoozing, setSnoozing] = useState(false);

  const apply = (call: () => Promise<Conversation>, what: string, after?: () => void) => {
    setError(null);
    call().then(
      (updated) => {
        session.store.upsertConversation(updated);
        session.store.notify();
        after?.();
      },
      (e: unknown) => setError(session.problem(e, `Could not change the ${what}`)),
    );
  };

  const options = assigneeOptions(
    conversation,
    session.store.conversations.values(),
    session.me,
    (userId) => anyNameOf(session, userId),
  );

  return (
    <div class="inbox-tools">
      <div class="tools">
        <label>
          <span class="label">Status</span>
          <select
            aria-label="Status"
            value={conversation.status}
            onChange={(e) => {
              const status = e.currentTarget.value as Status;
              if (status === "snoozed") {
                // A snooze needs its time: the picker asks for it; the select shows the status as it is.
                e.currentTarget.value = conversation.status;
                setSnoozing(true);
                return;
              }
              apply(() => session.api.setStatus(id, status), "status");
            }}
          >
            {STATUSES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span class="label">Assignee</span>
          <select
            aria-label="Assignee"
            value={conversation.assignee ?? ""}
            onChange={(e) => {
              const userId = e.currentTarget.value || null;
              apply(() => session.api.setAssignee(id, userId), "assignee");
            }}
          >
            {options.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span class="label">Priority</span>
          <select
            aria-label="Priority"
            value={priorityOf(conversation)}
            onChange={(e) => {
              const priority = e.currentTarget.value as Priority;
              apply(() => session.api.setPriority(id, priority), "priority");
            }}
          >
            {PRIORITIES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" aria-expanded={snoozing} onClick={() => setSnoozing(!snoozing)}>
          Snooze
        </button>
      </div>
      {snoozing ? (
        <SnoozePicker
          onCancel={() => setSnoozing(false)}
          onPick={(until) =>
            apply(() => session.api.setStatus(id, "snoozed", rfc3339(until)), "status", () => setSnoozing(false))
          }
        />
      ) : null}
      <ErrorNote text={error} />
      <Labels
        labels={conversation.labels ?? []}
        onChange={(labels) => apply(() => session.api.setLabels(id, labels), "labels")}
      />
      <Facts conversation={conversation} />
    </div>
  );
}

/** "Snooze": quick choices, or a date and time of one's own. */
function SnoozePicker({ onPick, onCancel }: { onPick: (until: Date) => void; onCancel: () => void }) {
  const now = new Date();
  const [value, setValue] = useState(() => localInputValue(new Date(now.getTime() + 3_600_000)));
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <form
      class="snooze"
      aria-label="Snooze picker"
      onSubmit={(e) => {
        e.preventDefault();
        const until = fromLocalInput(value);
        const why = snoozeProblem(until, new Date());
        setProblem(why);
        if (!why && until) onPick(until);
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.stopPropagation();
          onCancel();
        }
      }}
    >
      <div class="quick">
        {snoozeChoices(now).map((choice) => (
          <button key={choice.label} type="button" onClick={() => onPick(choice.until)}>
            {choice.label}
          </button>
        ))}
      </div>
      <label>
        <span class="label">Snooze until</span>
        <input
          type="datetime-local"
          value={value}
          min={localInputValue(now)}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="primary">
        Snooze until then
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <ErrorNote text={problem} />
    </form>
  );
}

/** The conversation's labels as chips, each removable, and a box to add one. */
function Labels({ labels, onChange }: { labels: string[]; onChange: (labels: string[]) => void }) {
  const [draft, setDraft] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const add = () => {
    const result = addLabel(labels, draft);
    if ("error" in result) {
      setProblem(result.error);
      return;
    }
    setProblem(null);
    setDraft("");
    if (result.labels !== labels) onChange(result.labels);
  };
  return (
    <div class="labels">
      <span class="label" id="labels-title">
        Labels
      </span>
      <ul class="label-chips" aria-labelledby="labels-title">
        {labels.map((l) => (
          <li key={l} class="chip">
            {l}
            <button
              type="button"
              class="chip-x"
              aria-label={`Remove label ${l}`}
              title={`Remove label ${l}`}
              onClick={() => onChange(removeLabel(labels, l))}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <form
        class="add-label"
        onSubmit={(e) => {
          e.preventDefault();
          add();
        }}
      >
        <input
          type="text"
          aria-label="Add label"
          placeholder="Add label"
          maxLength={64}
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button type="submit">Add</button>
      </form>
      <ErrorNote text={problem} />
    </div>
  );
}

/** Snooze, response times and the rating, when there are any. */
function Facts({ conversation }: { conversation: Conversation }) {
  const facts: string[] = [];
  if (conversation.status === "snoozed" && conversation.snoozedUntil) facts.push(snoozedText(conversation.snoozedUntil));
  if (conversation.firstResponseMs != null) facts.push(`First response in ${durationWords(conversation.firstResponseMs)}`);
  if (conversation.resolutionMs != null) facts.push(`Resolved in ${durationWords(conversation.resolutionMs)}`);
  const rating = conversation.rating;
  if (rating) facts.push(`Rated ${rating.score} of 5${rating.comment ? `: “${rating.comment}”` : ""}`);
  if (facts.length === 0) return null;
  return (
    <p class="facts">
      {facts.map((f) => (
        <span key={f}>{f}</span>
      ))}
    </p>
  );
}
