import { humanSize, type PendingFiles } from "../attachments";
import { ErrorNote } from "./ErrorNote";

/** "PDF" for "menu.pdf": what stands in for a preview of a file that has none. */
function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 && name.length - dot <= 5 ? name.slice(dot + 1).toUpperCase() : "FILE";
}

/**
 * The files waiting to go with the next message: a preview of each (images and recordings from a
 * local `blob:` URL), its upload progress, the API's message when it was refused, and "Remove".
 */
export function AttachmentTray({ files }: { files: PendingFiles }) {
  if (files.items.length === 0 && !files.notice) return null;
  return (
    <div class="tray-wrap">
      <ul class="tray" aria-label="Attachments to send">
        {files.items.map((item) => {
          const type = item.mimetype.toLowerCase();
          return (
            <li key={item.key} class={`pending-file ${item.state}`}>
              {item.preview && type.startsWith("image/") ? (
                <img class="preview" src={item.preview} alt="" width={48} height={48} />
              ) : item.preview && type.startsWith("audio/") ? (
                <audio class="preview-audio" controls preload="metadata" src={item.preview} aria-label={`Listen to ${item.name}`} />
              ) : (
                <span class="file-icon" aria-hidden="true">
                  {extensionOf(item.name)}
                </span>
              )}
              <span class="file-name">{item.name}</span>
              <span class="file-size">{humanSize(item.size)}</span>
              {item.state === "uploading" ? (
                <progress max={1} value={item.progress} aria-label={`Uploading ${item.name}`}>
                  {Math.round(item.progress * 100)}%
                </progress>
              ) : null}
              {item.state === "done" ? <span class="file-ok">Ready</span> : null}
              <button type="button" class="link" aria-label={`Remove ${item.name}`} onClick={() => files.remove(item.key)}>
                Remove
              </button>
              <ErrorNote text={item.state === "failed" ? `Not uploaded: ${item.error}` : null} />
            </li>
          );
        })}
      </ul>
      <ErrorNote text={files.notice} />
    </div>
  );
}
