import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import {
  MAX_ATTACHMENTS,
  PendingFiles,
  durationText,
  fitWithin,
  humanSize,
  kindOf,
  messageTypeFor,
  pickRecordingType,
  voiceFileName,
} from "../src/attachments";
import { summaryOf } from "../src/hooks";
import type { Attachment } from "../src/types";

describe("humanSize", () => {
  it("reads as a person would", () => {
    expect(humanSize(0)).toBe("0 B");
    expect(humanSize(512)).toBe("512 B");
    expect(humanSize(1023)).toBe("1023 B");
    expect(humanSize(1024)).toBe("1 KB");
    expect(humanSize(1536)).toBe("1.5 KB");
    expect(humanSize(20_000)).toBe("20 KB");
    expect(humanSize(10 * 1024 * 1024)).toBe("10 MB");
    expect(humanSize(1.25 * 1024 * 1024)).toBe("1.3 MB");
    expect(humanSize(3 * 1024 ** 3)).toBe("3 GB");
    expect(humanSize(-1)).toBe("");
  });
});

describe("durationText", () => {
  it("is m:ss, or h:mm:ss past an hour, whole seconds as players count them, never 0:00 for a sound", () => {
    expect(durationText(0)).toBe("0:00");
    expect(durationText(300)).toBe("0:01");
    expect(durationText(1920)).toBe("0:01");
    expect(durationText(2000)).toBe("0:02");
    expect(durationText(65_999)).toBe("1:05");
    expect(durationText(3_725_000)).toBe("1:02:05");
  });
});

describe("messageTypeFor", () => {
  it("is image when every attachment is an image, file otherwise, text without any", () => {
    expect(messageTypeFor([])).toBe("text");
    expect(messageTypeFor(["image/png"])).toBe("image");
    expect(messageTypeFor(["image/png", "IMAGE/JPEG"])).toBe("image");
    expect(messageTypeFor(["image/png", "application/pdf"])).toBe("file");
    // A voice message is a file whose attachment is audio.
    expect(messageTypeFor(["audio/webm;codecs=opus"])).toBe("file");
  });
});

describe("kindOf", () => {
  it("shows uploaded images and audio inline, everything else and outside URLs as links", () => {
    expect(kindOf({ id: "a1", mimetype: "image/webp" })).toBe("image");
    expect(kindOf({ id: "a1", mimetype: "audio/ogg; codecs=opus" })).toBe("audio");
    expect(kindOf({ id: "a1", mimetype: "application/pdf" })).toBe("file");
    expect(kindOf({ id: "a1", mimetype: "video/webm" })).toBe("file");
    expect(kindOf({ mimetype: "image/png" })).toBe("file");
    expect(kindOf({ id: null, mimetype: "audio/mpeg" })).toBe("file");
  });
});

describe("summaryOf", () => {
  it("is the text, or what a message without text carries", () => {
    const a = (filename: string, mimetype: string) => ({ filename, mimetype });
    expect(summaryOf({ content: "Hi", messageType: "image", attachments: [a("p.png", "image/png")] })).toBe("Hi");
    expect(summaryOf({ content: "", messageType: "file", attachments: [a("voice-20261203-090000.webm", "audio/webm")] })).toBe(
      "Voice message",
    );
    expect(
      summaryOf({ content: " ", messageType: "image", attachments: [a("a.png", "image/png"), a("b.jpg", "image/jpeg")] }),
    ).toBe("a.png, b.jpg");
    // The conversation list's last message has no attachments, only its type.
    expect(summaryOf({ content: "", messageType: "image" })).toBe("Photo");
    expect(summaryOf({ content: "", messageType: "file" })).toBe("Attachment");
  });
});

describe("fitWithin", () => {
  it("scales down to the box keeping the aspect ratio, never up", () => {
    expect(fitWithin(4000, 3000, 240)).toEqual([240, 180]);
    expect(fitWithin(300, 1200, 240)).toEqual([60, 240]);
    expect(fitWithin(100, 50, 240)).toEqual([100, 50]);
    expect(fitWithin(10_000, 1, 240)).toEqual([240, 1]);
    expect(fitWithin(null, 50, 240)).toBeNull();
    expect(fitWithin(100, 0, 240)).toBeNull();
  });
});

describe("recording", () => {
  it("prefers Opus in WebM, else the first type the browser records", () => {
    expect(pickRecordingType(() => true)).toBe("audio/webm;codecs=opus");
    expect(pickRecordingType((t) => t === "audio/mp4")).toBe("audio/mp4");
    expect(pickRecordingType(() => false)).toBeNull();
  });

  it("names the file after when it was recorded, with the type's extension", () => {
    const at = new Date(2026, 11, 3, 9, 5, 7);
    expect(voiceFileName(at, "audio/webm;codecs=opus")).toBe("voice-20261203-090507.webm");
    expect(voiceFileName(at, "audio/ogg")).toBe("voice-20261203-090507.ogg");
    expect(voiceFileName(at, "audio/mp4")).toBe("voice-20261203-090507.m4a");
  });
});

/** PendingFiles with an uploader the test answers by hand. */
function harness() {
  const calls: {
    file: File;
    progress: (f: number) => void;
    resolve: (a: Attachment) => void;
    reject: (e: unknown) => void;
    aborted: boolean;
  }[] = [];
  const revoked: string[] = [];
  let changes = 0;
  const files = new PendingFiles(
    (file, progress) => {
      const call = { file, progress, resolve: (_: Attachment) => {}, reject: (_: unknown) => {}, aborted: false };
      const done = new Promise<Attachment>((resolve, reject) => {
        call.resolve = resolve;
        call.reject = reject;
      });
      calls.push(call);
      return { done, abort: () => (call.aborted = true) };
    },
    () => changes++,
    (file) => `blob:${file.name}`,
    (url) => revoked.push(url),
  );
  return { files, calls, revoked, changes: () => changes };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const file = (name: string, type = "image/png", size = 10) => new File([new Uint8Array(size)], name, { type });
const stored = (id: string, mimetype = "image/png"): Attachment => ({
  id,
  url: `/messaging/attachments/${id}?exp=1&sig=x`,
  filename: `${id}.png`,
  mimetype,
  size: 10,
  thumbnailUrl: null,
  width: null,
  height: null,
  durationMs: null,
});

describe("PendingFiles", () => {
  it("uploads each file at once, reports progress, and is ready when all are done", async () => {
    const { files, calls } = harness();
    files.add([file("a.png"), file("b.pdf", "application/pdf")]);
    expect(calls.map((c) => c.file.name)).toEqual(["a.png", "b.pdf"]);
    expect(files.uploading).toBe(true);
    expect(files.items.map((i) => [i.name, i.state, i.preview])).toEqual([
      ["a.png", "uploading", "blob:a.png"],
      ["b.pdf", "uploading", "blob:b.pdf"],
    ]);
    calls[0].progress(0.5);
    expect(files.items[0].progress).toBe(0.5);
    calls[0].progress(7);
    expect(files.items[0].progress).toBe(1);

    calls[0].resolve(stored("a1"));
    await settle();
    expect(files.uploading).toBe(true);
    expect(files.ready.map((a) => a.id)).toEqual(["a1"]);
    calls[1].resolve(stored("b1", "application/pdf"));
    await settle();
    expect(files.uploading).toBe(false);
    expect(files.ready.map((a) => a.id)).toEqual(["a1", "b1"]);
  });

  it("keeps a refused upload with the API's message, out of what is sent, until removed", async () => {
    const { files, calls, revoked } = harness();
    files.add([file("big.png"), file("ok.png")]);
    calls[0].reject(new ApiError(413, "payload_too_large", "The file is larger than 10 MiB"));
    calls[1].resolve(stored("ok1"));
    await settle();
    expect(files.uploading).toBe(false);
    expect(files.items[0]).toMatchObject({ state: "failed", error: "The file is larger than 10 MiB" });
    expect(files.ready.map((a) => a.id)).toEqual(["ok1"]);

    expect(files.takeReady().map((a) => a.id)).toEqual(["ok1"]);
    expect(revoked).toEqual(["blob:ok.png"]);
    expect(files.items.map((i) => i.name)).toEqual(["big.png"]);
    files.remove(files.items[0].key);
    expect(files.items).toEqual([]);
    expect(revoked).toEqual(["blob:ok.png", "blob:big.png"]);
  });

  it("a network failure reads as a failed upload", async () => {
    const { files, calls } = harness();
    files.add([file("a.png")]);
    calls[0].reject(new TypeError("boom"));
    await settle();
    expect(files.items[0]).toMatchObject({ state: "failed", error: "The upload failed" });
  });

  it("removing a file still uploading aborts it and ignores its outcome", async () => {
    const { files, calls } = harness();
    files.add([file("a.png")]);
    files.remove(files.items[0].key);
    expect(calls[0].aborted).toBe(true);
    expect(files.uploading).toBe(false);
    calls[0].resolve(stored("a1"));
    calls[0].progress(0.9);
    await settle();
    expect(files.items).toEqual([]);
    expect(files.ready).toEqual([]);
  });

  it(`takes at most ${MAX_ATTACHMENTS} files and says why it left the rest out`, () => {
    const { files, calls } = harness();
    files.add(Array.from({ length: MAX_ATTACHMENTS + 2 }, (_, i) => file(`f${i}.png`)));
    expect(calls).toHaveLength(MAX_ATTACHMENTS);
    expect(files.notice).toBe(`At most ${MAX_ATTACHMENTS} files go with one message.`);
    files.remove(files.items[0].key);
    expect(files.notice).toBeNull();
    files.add([file("again.png")]);
    expect(calls).toHaveLength(MAX_ATTACHMENTS + 1);
  });

  it("dispose stops every upload and frees every preview", () => {
    const { files, calls, revoked } = harness();
    files.add([file("a.png"), file("b.png")]);
    files.dispose();
    expect(calls.every((c) => c.aborted)).toBe(true);
    expect(revoked).toEqual(["blob:a.png", "blob:b.png"]);
    expect(files.items).toEqual([]);
  });
});
