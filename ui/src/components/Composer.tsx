import { useEffect, useRef, useState } from "preact/hooks";
import { durationText, type PendingFiles } from "../attachments";
import { excerpt, nameOf } from "../hooks";
import { Recording } from "../recorder";
import type { Session } from "../session";
import type { Message } from "../types";
import { AttachmentTray } from "./AttachmentTray";
import { ErrorNote } from "./ErrorNote";

/** What the file picker offers: the types the server takes (docs/api.md, route 16). */
const ACCEPT =
  "image/jpeg,image/png,image/gif,image/webp,application/pdf,text/plain," +
  "audio/ogg,audio/opus,audio/webm,audio/mp4,audio/x-m4a,audio/mpeg,video/webm,video/mp4," +
  ".jpg,.jpeg,.png,.gif,.webp,.pdf,.txt,.ogg,.opus,.webm,.m4a,.mp4,.mp3";

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
  const picker = useRef<HTMLInputElement>(null);
  const stopButton = useRef<HTMLButtonElement>(null);
  const recordButton = useRef<HTMLButtonElement>(null);
  const canRecord = Recording.supported();

  useEffect(() => {
    if (!recording) return;
    stopButton.current?.focus();
    const timer = setInterval(() => setElapsed(Date.now() - recording.startedAt), 250);
    return () => clearInterval(timer);
  }, [recording]);

  // Leaving the conversation mid-recording throws the recording away and frees the microphone.
  const current = useRef<Recording | null>(null);
  current.current = recording;
  useEffect(() => () => current.current?.cancel(), []);

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
    setRecordError(null);
    setElapsed(0);
    Recording.start((file) => {
      setRecording(null);
      if (file) files.add([file]);
      recordButton.current?.focus();
    }).then(setRecording, (e: unknown) => setRecordError(e instanceof Error ? e.message : "Could not start recording"));
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
            Replying to {nameOf(session, conversationId, replyTo.sender)}: {excerpt(replyTo.content)}
          </span>
          <button type="button" class="link" onClick={onCancelReply}>
            Cancel reply
          </button>
        </div>
      ) : null}
      <AttachmentTray files={files} />
      {recording ? (
        <div class="recording">
          <span class="rec-dot" aria-hidden="true">
            ●
          </span>
          <span>Recording {durationText(elapsed)}</span>
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
          <span aria-hidden="true">📎</span>
        </button>
        {canRecord ? (
          <button
            type="button"
            class="icon"
            ref={recordButton}
            aria-label="Record voice message"
            title="Record voice message"
            disabled={recording !== null}
            onClick={startRecording}
          >
            <span aria-hidden="true">🎤</span>
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
