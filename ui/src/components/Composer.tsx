import { useEffect, useRef, useState } from "preact/hooks";
import { durationText, type PendingFiles } from "../attachments";
import { excerpt, nameOf, summaryOf } from "../hooks";
import { cannedMatches } from "../inbox";
import { Recording } from "../recorder";
import type { Session } from "../session";
import type { CannedReply, Message } from "../types";
import { AttachmentTray } from "./AttachmentTray";
import { ErrorNote } from "./ErrorNote";

/** What the file picker offers: the types the server takes (docs/api.md, route 16). */
const ACCEPT =
  "image/jpeg,image/png,image/gif,image/webp,application/pdf,text/plain," +
  "audio/ogg,audio/opus,audio/webm,audio/mp4,audio/x-m4a,audio/mpeg," +
  ".jpg,.jpeg,.png,.gif,.webp,.pdf,.txt,.ogg,.opus,.webm,.m4a,.mp3";

interface Props {
  session: Session;
  conversationId: string;
  replyTo: Message | null;
  onCancelReply: () => void;
  /** The files picked, dropped, pasted or recorded for the next message. */
  files: PendingFiles;
}

/**
 * The message box: Enter sends, Shift+Enter is a new line; sending works offline (it waits). Files
 * ("Attach file", dropped on the conversation, images pasted into the box) and voice messages
 * ("Record voice message") upload at once and go with the next message; Send waits for them.
 * An admin also has "Internal note" (the message goes to admins only: text, no files) and canned
 * replies: `/` at the start of the box lists them ("Canned replies"), Enter or a click puts one in.
 */
export function Composer({ session, conversationId, replyTo, onCancelReply, files }: Props) {
  const [text, setText] = useState("");
  const [recording, setRecording] = useState<Recording | null>(null);
  const [elapsed, setElapsed] = useState(0);
  const [recordError, setRecordError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const picker = useRef<HTMLInputElement>(null);
  const stopButton = useRef<HTMLButtonElement>(null);
  const recordButton = useRef<HTMLButtonElement>(null);
  const canRecord = Recording.supported();
  const admin = session.me.role === "admin";
  const [internal, setInternal] = useState(false);
  // A note may answer anything, but a message to the customer may not answer a note.
  useEffect(() => {
    if (replyTo?.internal === true) setInternal(true);
  }, [replyTo]);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState(false);
  const suggestions = admin && !dismissed ? cannedMatches(session.canned ?? [], text) : null;
  const showSuggestions = suggestions !== null && suggestions.length > 0;
  const activeIndex = showSuggestions ? Math.min(active, suggestions.length - 1) : 0;
  const box = useRef<HTMLTextAreaElement>(null);

  // The focus moves to "Stop recording" when recording starts, and back to the record button after.
  const refocus = useRef(false);
  useEffect(() => {
    if (!recording) {
      if (refocus.current) recordButton.current?.focus();
      refocus.current = false;
      return;
    }
    refocus.current = true;
    stopButton.current?.focus();
    const timer = setInterval(() => setElapsed(Date.now() - recording.startedAt), 250);
    return () => clearInterval(timer);
  }, [recording]);

  // Leaving the conversation mid-recording (or while the microphone is being asked for) throws the
  // recording away and frees the microphone.
  const current = useRef<Recording | null>(null);
  current.current = recording;
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
      current.current?.cancel();
    },
    [],
  );

  const insertCanned = (reply: CannedReply) => {
    setText(reply.content);
    setDismissed(true);
    box.current?.focus();
  };

  const submit = () => {
    if (internal) {
      if (text.trim() === "") return;
      session.send(conversationId, text, replyTo?.id ?? null, [], true);
      setText("");
      onCancelReply();
      return;
    }
    if (files.uploading) return;
    const attachments = files.ready;
    const blank = text.trim() === "";
    if (blank && attachments.length === 0) return;
    files.takeReady();
    session.send(conversationId, blank ? "" : text, replyTo?.id ?? null, attachments);
    setText("");
    onCancelReply();
  };

  const startRecording = () => {
    if (starting || recording) return;
    setRecordError(null);
    setElapsed(0);
    setStarting(true);
    Recording.start((file) => {
      setRecording(null);
      if (file) files.add([file]);
    }).then(
      (started) => {
        setStarting(false);
        if (alive.current) setRecording(started);
        else started.cancel();
      },
      (e: unknown) => {
        setStarting(false);
        setRecordError(e instanceof Error ? e.message : "Could not start recording");
      },
    );
  };

  return (
    <form
      class={`composer${internal ? " internal" : ""}`}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {replyTo ? (
        <div class="replying">
          <span>
            Replying to {nameOf(session, conversationId, replyTo.sender)}: {excerpt(summaryOf(replyTo))}
          </span>
          <button type="button" class="link" onClick={onCancelReply}>
            Cancel reply
          </button>
        </div>
      ) : null}
      <AttachmentTray files={files} />
      {recording ? (
        <div class="recording">
          <span class="rec-dot" aria-hidden="true" />
          <span>Recording {durationText(Math.floor(elapsed / 1000) * 1000)}</span>
          <button type="button" class="danger" ref={stopButton} onClick={() => recording.stop()}>
            Stop recording
          </button>
        </div>
      ) : null}
      <ErrorNote text={recordError} />
      {showSuggestions ? (
        <ul id="canned-suggestions" class="canned-suggestions" role="listbox" aria-label="Canned replies">
          {suggestions.map((r, i) => (
            <li
              key={r.shortcut}
              id={`canned-${r.shortcut}`}
              role="option"
              aria-selected={i === activeIndex}
              class={i === activeIndex ? "active" : ""}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => insertCanned(r)}
            >
              <span class="shortcut">/{r.shortcut}</span> <strong>{r.title}</strong>{" "}
              <span class="muted">{excerpt(r.content, 60)}</span>
            </li>
          ))}
        </ul>
      ) : null}
      <div class="row">
        <input
          ref={picker}
          type="file"
          multiple
          hidden
          accept={ACCEPT}
          onChange={(e) => {
            const input = e.currentTarget;
            if (input.files && input.files.length > 0) files.add([...input.files]);
            input.value = "";
          }}
        />
        <button
          type="button"
          class="icon"
          aria-label="Attach file"
          title={internal ? "A note takes no files" : "Attach file"}
          disabled={internal}
          onClick={() => picker.current?.click()}
        >
          <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
            <path
              d="M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.9-8.9a3.7 3.7 0 0 1 5.2 5.2l-8.9 8.9a1.8 1.8 0 0 1-2.6-2.6l8.2-8.2"
              fill="none"
              stroke="currentColor"
              stroke-width="2"
              stroke-linecap="round"
              stroke-linejoin="round"
            />
          </svg>
        </button>
        {canRecord ? (
          <button
            type="button"
            class="icon"
            ref={recordButton}
            aria-label="Record voice message"
            title="Record voice message"
            disabled={recording !== null || starting || internal}
            onClick={startRecording}
          >
            <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
              <g fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
                <rect x="9" y="3" width="6" height="11" rx="3" />
                <path d="M5 11a7 7 0 0 0 14 0M12 18v3M8 21h8" />
              </g>
            </svg>
          </button>
        ) : null}
        <textarea
          ref={box}
          aria-label="Message"
          placeholder={internal ? "Write an internal note (admins only)" : "Write a message"}
          rows={2}
          value={text}
          aria-autocomplete={admin ? "list" : undefined}
          aria-controls={showSuggestions ? "canned-suggestions" : undefined}
          aria-activedescendant={showSuggestions ? `canned-${suggestions[activeIndex].shortcut}` : undefined}
          onInput={(e) => {
            const value = e.currentTarget.value;
            setText(value);
            setDismissed(false);
            setActive(0);
            if (admin && value.startsWith("/")) session.loadCanned().catch(() => undefined);
            // Writing a note is not typing the customer should see.
            if (value !== "" && !internal) session.typing(conversationId);
            else session.stopTyping(conversationId);
          }}
          onBlur={() => session.stopTyping(conversationId)}
          onPaste={(e) => {
            // Pasted images (a screenshot) join the attachments; any text in the clipboard still pastes.
            if (internal) return;
            const images = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith("image/"));
            if (images.length > 0) files.add(images);
          }}
          onKeyDown={(e) => {
            if (showSuggestions) {
              if (e.key === "ArrowDown" || e.key === "ArrowUp") {
                e.preventDefault();
                const n = suggestions.length;
                setActive((activeIndex + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
                return;
              }
              if ((e.key === "Enter" && !e.shiftKey && !e.isComposing) || e.key === "Tab") {
                e.preventDefault();
                insertCanned(suggestions[activeIndex]);
                return;
              }
              if (e.key === "Escape") {
                e.preventDefault();
                e.stopPropagation();
                setDismissed(true);
                return;
              }
            }
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            } else if (e.key === "Escape" && replyTo) {
              e.stopPropagation();
              onCancelReply();
            }
          }}
        />
        <button
          type="submit"
          class="primary"
          disabled={!internal && files.uploading}
          aria-describedby={!internal && files.uploading ? "upload-wait" : undefined}
        >
          Send
        </button>
      </div>
      {admin ? (
        <label class="note-toggle">
          <input
            type="checkbox"
            checked={internal}
            onChange={(e) => {
              const on = e.currentTarget.checked;
              setInternal(on);
              if (on) session.stopTyping(conversationId);
            }}
          />{" "}
          Internal note
        </label>
      ) : null}
      {internal ? <span class="hint"> Only admins see a note; it carries no files.</span> : null}
      {!internal && files.uploading ? (
        <p id="upload-wait" class="hint">
          Send waits for the uploads to finish.
        </p>
      ) : null}
    </form>
  );
}
