import { useEffect, useRef, useState } from "preact/hooks";
import { durationText, type PendingFiles } from "../attachments";
import { excerpt, nameOf, summaryOf } from "../hooks";
import { Recording } from "../recorder";
import type { Session } from "../session";
import type { Message } from "../types";
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

  const submit = () => {
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
      class="composer"
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
        <button type="button" class="icon" aria-label="Attach file" title="Attach file" onClick={() => picker.current?.click()}>
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
            disabled={recording !== null || starting}
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
          aria-label="Message"
          placeholder="Write a message"
          rows={2}
          value={text}
          onInput={(e) => {
            setText(e.currentTarget.value);
            if (e.currentTarget.value !== "") session.typing(conversationId);
            else session.stopTyping(conversationId);
          }}
          onBlur={() => session.stopTyping(conversationId)}
          onPaste={(e) => {
            // Pasted images (a screenshot) join the attachments; any text in the clipboard still pastes.
            const images = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith("image/"));
            if (images.length > 0) files.add(images);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            } else if (e.key === "Escape" && replyTo) {
              e.stopPropagation();
              onCancelReply();
            }
          }}
        />
        <button type="submit" class="primary" disabled={files.uploading} aria-describedby={files.uploading ? "upload-wait" : undefined}>
          Send
        </button>
      </div>
      {files.uploading ? (
        <p id="upload-wait" class="hint">
          Send waits for the uploads to finish.
        </p>
      ) : null}
    </form>
  );
}
