// Recording a voice message with MediaRecorder: Opus in WebM where the browser records it (Chromium,
// Firefox), else what it supports (Safari: MP4/AAC). The recording becomes a File, named
// `voice-<time>.<ext>`, that joins the files waiting to be sent like any other attachment.

import { baseType, pickRecordingType, voiceFileName } from "./attachments";

/** A recording stops on its own after this long (10 minutes of Opus stays far below 10 MiB). */
export const MAX_RECORDING_MS = 10 * 60 * 1000;

export class Recording {
  readonly startedAt = Date.now();
  private readonly chunks: Blob[] = [];
  private discard = false;
  private readonly limit: ReturnType<typeof setTimeout>;

  /** True when this browser can record here (MediaRecorder, and a secure context for the microphone). */
  static supported(): boolean {
    return typeof MediaRecorder !== "undefined" && typeof navigator.mediaDevices?.getUserMedia === "function";
  }

  /**
   * Asks for the microphone and starts recording; `onDone` gets the file when it is stopped (null when
   * cancelled or empty).
   *
   * # Errors
   * Rejects with a sentence to show when the microphone is refused, missing or busy.
   */
  static async start(onDone: (file: File | null) => void): Promise<Recording> {
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      const name = e instanceof DOMException ? e.name : "";
      throw new Error(
        name === "NotAllowedError" || name === "SecurityError"
          ? "Microphone access was refused"
          : name === "NotFoundError"
            ? "No microphone found"
            : "Could not start recording",
      );
    }
    const type = pickRecordingType((t) => MediaRecorder.isTypeSupported(t));
    let recorder: MediaRecorder;
    try {
      recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    } catch {
      for (const track of stream.getTracks()) track.stop();
      throw new Error("Could not start recording");
    }
    return new Recording(stream, recorder, type, onDone);
  }

  private constructor(
    private readonly stream: MediaStream,
    private readonly recorder: MediaRecorder,
    type: string | null,
    onDone: (file: File | null) => void,
  ) {
    recorder.addEventListener("dataavailable", (e) => {
      if (e.data.size > 0) this.chunks.push(e.data);
    });
    recorder.addEventListener("stop", () => {
      clearTimeout(this.limit);
      for (const track of this.stream.getTracks()) track.stop();
      if (this.discard || this.chunks.length === 0) {
        onDone(null);
        return;
      }
      // The parameters (codecs=opus) stay out of the file's type: the server sniffs the bytes anyway.
      const mimetype = baseType(recorder.mimeType || type || this.chunks[0].type || "audio/webm");
      const blob = new Blob(this.chunks, { type: mimetype });
      onDone(new File([blob], voiceFileName(new Date(this.startedAt), mimetype), { type: mimetype }));
    });
    recorder.start();
    this.limit = setTimeout(() => this.stop(), MAX_RECORDING_MS);
  }

  /** Stops and hands the recording to `onDone`. */
  stop(): void {
    if (this.recorder.state !== "inactive") this.recorder.stop();
  }

  /** Stops and throws the recording away (the page or the conversation went away). */
  cancel(): void {
    this.discard = true;
    this.stop();
  }
}
