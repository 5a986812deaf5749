// Attachments (issue 16): what the message list shows for each kind of file, and the files a person
// has picked for the next message, each uploading on its own (route 16) before the message is sent
// with their ids. Pure logic and one small state holder, tested in test/attachments.test.ts; the
// upload itself (XMLHttpRequest, for its progress events) is in api/upload.ts.

import { ApiError } from "./api/client";
import type { Attachment } from "./types";

/** At most this many attachments go with one message (the server refuses more). */
export const MAX_ATTACHMENTS = 10;

/** A byte count as a person reads it: "512 B", "1.5 KB", "10 MB" (1 KB = 1024 B). */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = value < 10 ? value.toFixed(1).replace(/\.0$/, "") : String(Math.round(value));
  return `${text} ${units[unit]}`;
}

/**
 * A duration in milliseconds as "m:ss" (or "h:mm:ss"), in whole seconds counted down as a stopwatch
 * and the browsers' players do (so "0:01" beside a player that says 0:01), but never "0:00" for a
 * recording that has any length.
 */
export function durationText(ms: number): string {
  const total = ms > 0 ? Math.max(1, Math.floor(ms / 1000)) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** The media type without its parameters, lower-cased: "audio/webm;codecs=opus" → "audio/webm". */
export function baseType(mimetype: string): string {
  return mimetype.split(";")[0].trim().toLowerCase();
}

export type AttachmentKind = "image" | "audio" | "file";

/**
 * How the log shows an attachment. Only attachments uploaded here (they have an `id`, and signed
 * URLs on this server) are shown inline: the page's CSP loads images and media from this origin only,
 * so an outside URL is always a link.
 */
export function kindOf(attachment: Pick<Attachment, "mimetype"> & { id?: string | null }): AttachmentKind {
  if (!attachment.id) return "file";
  const type = baseType(attachment.mimetype);
  if (type.startsWith("image/")) return "image";
  if (type.startsWith("audio/")) return "audio";
  return "file";
}

/** The message type for what is sent: "image" when every attachment is an image, else "file". */
export function messageTypeFor(mimetypes: string[]): "text" | "image" | "file" {
  if (mimetypes.length === 0) return "text";
  return mimetypes.every((t) => baseType(t).startsWith("image/")) ? "image" : "file";
}

/** Scales `width`×`height` down to fit a `max`×`max` box (never up): the thumbnail's shown size. */
export function fitWithin(width: number | null | undefined, height: number | null | undefined, max: number): [number, number] | null {
  if (!width || !height || width <= 0 || height <= 0) return null;
  const scale = Math.min(1, max / width, max / height);
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

/** The recording format: Opus in WebM where the browser records it, else the first it supports. */
export const RECORDING_TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];

export function pickRecordingType(isTypeSupported: (type: string) => boolean): string | null {
  return RECORDING_TYPES.find((t) => isTypeSupported(t)) ?? null;
}

/** A voice message's file name from when it was recorded and its type: `voice-20261203-101500.webm`. */
export function voiceFileName(at: Date, mimetype: string): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const stamp =
    `${at.getFullYear()}${pad(at.getMonth() + 1)}${pad(at.getDate())}-` +
    `${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}`;
  const type = baseType(mimetype);
  const ext = type === "audio/ogg" ? "ogg" : type === "audio/mp4" ? "m4a" : "webm";
  return `voice-${stamp}.${ext}`;
}

// ---------------------------------------------------------------------------------------------
// The files picked for the next message

export type UploadState = "uploading" | "done" | "failed";

export interface PendingFile {
  /** Local key (a file has no id until the server stored it). */
  key: string;
  name: string;
  size: number;
  mimetype: string;
  /** Upload progress, 0 to 1. */
  progress: number;
  state: UploadState;
  /** The API's own words when the upload was refused. */
  error: string | null;
  /** What the server stored, once the upload is done. */
  attachment: Attachment | null;
  /** A `blob:` URL of the file for a local preview (images and audio), revoked on removal. */
  preview: string | null;
}

/** One upload in flight: its outcome, and a way to stop it when the file is removed. */
export interface UploadCall {
  done: Promise<Attachment>;
  abort(): void;
}

export type Uploader = (file: File, onProgress: (fraction: number) => void) => UploadCall;

export interface FileLike {
  name: string;
  size: number;
  type: string;
}

/**
 * The tray under the message box: every file added starts uploading at once; the message can be sent
 * when none is still uploading, and takes the ones that are done. A failed one stays, with the API's
 * message, until it is removed.
 */
export class PendingFiles {
  items: PendingFile[] = [];
  /** Why the last files added were not taken (too many), or null. */
  notice: string | null = null;
  private readonly calls = new Map<string, UploadCall>();
  private next = 0;

  constructor(
    private readonly upload: Uploader,
    private readonly onChange: () => void,
    private readonly previewOf: (file: File) => string | null = () => null,
    private readonly revoke: (url: string) => void = () => undefined,
  ) {}

  get uploading(): boolean {
    return this.items.some((i) => i.state === "uploading");
  }

  /** The uploaded attachments, in the order they were added. */
  get ready(): Attachment[] {
    return this.items.filter((i) => i.state === "done" && i.attachment).map((i) => i.attachment!);
  }

  add(files: Iterable<File>): void {
    this.notice = null;
    for (const file of files) {
      if (this.items.filter((i) => i.state !== "failed").length >= MAX_ATTACHMENTS) {
        this.notice = `At most ${MAX_ATTACHMENTS} files go with one message.`;
        break;
      }
      this.start(file);
    }
    this.onChange();
  }

  remove(key: string): void {
    const index = this.items.findIndex((i) => i.key === key);
    if (index < 0) return;
    const [item] = this.items.splice(index, 1);
    this.calls.get(key)?.abort();
    this.calls.delete(key);
    if (item.preview) this.revoke(item.preview);
    this.notice = null;
    this.onChange();
  }

  /** After sending: the sent files leave the tray (their previews too); failed ones stay. */
  takeReady(): Attachment[] {
    const ready = this.ready;
    for (const item of this.items.filter((i) => i.state === "done")) {
      if (item.preview) this.revoke(item.preview);
    }
    this.items = this.items.filter((i) => i.state !== "done");
    this.notice = null;
    this.onChange();
    return ready;
  }

  /** The tray goes away (another conversation, page closed): stop uploads, free previews. */
  dispose(): void {
    for (const call of this.calls.values()) call.abort();
    this.calls.clear();
    for (const item of this.items) if (item.preview) this.revoke(item.preview);
    this.items = [];
  }

  private start(file: File): void {
    const key = `f${++this.next}`;
    const item: PendingFile = {
      key,
      name: file.name || "file",
      size: file.size,
      mimetype: file.type,
      progress: 0,
      state: "uploading",
      error: null,
      attachment: null,
      preview: this.previewOf(file),
    };
    this.items.push(item);
    const find = () => this.items.find((i) => i.key === key);
    const call = this.upload(file, (fraction) => {
      const current = find();
      if (!current || current.state !== "uploading") return;
      current.progress = Math.min(1, Math.max(0, fraction));
      this.onChange();
    });
    this.calls.set(key, call);
    call.done.then(
      (attachment) => {
        this.calls.delete(key);
        const current = find();
        if (!current) return;
        current.state = "done";
        current.progress = 1;
        current.attachment = attachment;
        this.onChange();
      },
      (error: unknown) => {
        this.calls.delete(key);
        const current = find();
        if (!current) return;
        current.state = "failed";
        current.error = error instanceof ApiError ? error.message : "The upload failed";
        this.onChange();
      },
    );
  }
}
