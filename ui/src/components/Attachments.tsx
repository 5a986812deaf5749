import { useState } from "preact/hooks";
import { durationText, fitWithin, humanSize, kindOf } from "../attachments";
import type { Session } from "../session";
import type { Attachment } from "../types";
import { ImageDialog } from "./ImageDialog";

/** Thumbnails are shown at most this many CSS pixels wide or high. */
const THUMB_BOX = 240;

interface Props {
  session: Session;
  conversationId: string;
  attachments: Attachment[];
}

function isVoice(attachment: Attachment): boolean {
  return attachment.filename.startsWith("voice-");
}

/**
 * A message's attachments: images as thumbnails that open full size, audio as a player (with its
 * length when the server measured it), anything else as a download link with name and size. The
 * URLs are the signed ones of the newest copy of the message; one that fails to load (expired) asks
 * the session for freshly signed ones.
 */
export function Attachments({ session, conversationId, attachments }: Props) {
  const [open, setOpen] = useState<Attachment | null>(null);
  if (attachments.length === 0) return null;
  const expired = () => session.refreshUrls(conversationId);

  return (
    <>
      <ul class="attachments" aria-label="Attachments">
        {attachments.map((a, i) => {
          const kind = kindOf(a);
          const key = a.id ?? `${i}:${a.url}`;
          if (kind === "image") {
            const size = fitWithin(a.width, a.height, THUMB_BOX);
            return (
              <li key={key} class="attachment image">
                <a
                  class="thumb"
                  href={a.url}
                  target="_blank"
                  rel="noopener"
                  aria-label={`Open image ${a.filename}`}
                  onClick={(e) => {
                    if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
                    e.preventDefault();
                    setOpen(a);
                  }}
                >
                  <img
                    src={a.thumbnailUrl ?? a.url}
                    alt={a.filename}
                    width={size?.[0]}
                    height={size?.[1]}
                    onError={expired}
                  />
                </a>
              </li>
            );
          }
          if (kind === "audio") {
            const length = a.durationMs ? durationText(a.durationMs) : null;
            const label = `${isVoice(a) ? "Voice message" : a.filename}${length ? `, ${length}` : ""}`;
            return (
              <li key={key} class="attachment audio">
                <audio controls preload="metadata" src={a.url} aria-label={label} onError={expired} />
                <span class="audio-label">
                  {isVoice(a) ? "Voice message" : a.filename}
                  {length ? <span class="duration"> {length}</span> : null}
                </span>
              </li>
            );
          }
          return (
            <li key={key} class="attachment file">
              <a
                href={a.url}
                {...(a.id ? { download: a.filename } : { target: "_blank", rel: "noopener noreferrer" })}
              >
                  {a.filename}
              </a>{" "}
              <span class="file-size">({humanSize(a.size)})</span>
            </li>
          );
        })}
      </ul>
      {open ? <ImageDialog url={open.url} filename={open.filename} onClose={() => setOpen(null)} /> : null}
    </>
  );
}
