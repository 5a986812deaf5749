import { useState } from "preact/hooks";
import { excerpt, useSession } from "../hooks";
import { validShortcut } from "../inbox";
import type { Session } from "../session";
import { ErrorNote } from "./ErrorNote";

/**
 * "Canned replies": the saved replies every admin shares (docs/inbox.md), each with "Delete /<shortcut>",
 * and a form (Shortcut, Title, Content, "Save canned reply") that adds one or replaces it.
 */
export function CannedPanel({ session }: { session: Session }) {
  useSession(session);
  const [open, setOpen] = useState(false);
  const [shortcut, setShortcut] = useState("");
  const [title, setTitle] = useState("");
  const [content, setContent] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);

  const toggle = () => {
    if (!open) session.loadCanned(true).catch((e: unknown) => setError(session.problem(e, "Could not load the canned replies")));
    setOpen(!open);
  };

  const run = (call: () => Promise<void>, done: string) => {
    setError(null);
    setResult(null);
    call().then(
      () => setResult(done),
      (e: unknown) => setError(session.problem(e, "Could not save it")),
    );
  };

  return (
    <div class="canned-panel">
      <button type="button" aria-expanded={open} onClick={toggle}>
        Canned replies
      </button>
      {open ? (
        <div class="canned-box">
          <ul class="canned-list" aria-label="Saved canned replies">
            {(session.canned ?? []).length === 0 ? <li class="empty">No canned replies yet</li> : null}
            {(session.canned ?? []).map((r) => (
              <li key={r.shortcut}>
                <span class="shortcut">/{r.shortcut}</span> <strong>{r.title}</strong>{" "}
                <span class="muted">{excerpt(r.content, 60)}</span>{" "}
                <button
                  type="button"
                  class="link"
                  onClick={() => {
                    setShortcut(r.shortcut);
                    setTitle(r.title);
                    setContent(r.content);
                  }}
                >
                  Edit /{r.shortcut}
                </button>
                <button
                  type="button"
                  class="link"
                  onClick={() => run(() => session.deleteCanned(r.shortcut), `Deleted /${r.shortcut}`)}
                >
                  Delete /{r.shortcut}
                </button>
              </li>
            ))}
          </ul>
          <form
            class="canned-form"
            onSubmit={(e) => {
              e.preventDefault();
              const key = shortcut.trim().replace(/^\//, "");
              if (!validShortcut(key)) {
                setError("A shortcut is 1 to 32 characters: a-z, 0-9, _ and -.");
                return;
              }
              run(async () => {
                await session.saveCanned(key, title.trim(), content);
                setShortcut("");
                setTitle("");
                setContent("");
              }, `Saved /${key}`);
            }}
            onKeyDown={(e) => {
              if (e.key === "Escape") setOpen(false);
            }}
          >
            <label>
              <span class="label">Shortcut</span>
              <input type="text" value={shortcut} maxLength={33} onInput={(e) => setShortcut(e.currentTarget.value)} />
            </label>
            <label>
              <span class="label">Title</span>
              <input type="text" value={title} maxLength={100} onInput={(e) => setTitle(e.currentTarget.value)} />
            </label>
            <label>
              <span class="label">Content</span>
              <textarea rows={3} value={content} maxLength={2000} onInput={(e) => setContent(e.currentTarget.value)} />
            </label>
            <button type="submit" class="primary">
              Save canned reply
            </button>
          </form>
          <ErrorNote text={error} />
          <span role="status" class="result">
            {result ?? ""}
          </span>
        </div>
      ) : null}
    </div>
  );
}
