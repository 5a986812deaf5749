import { useEffect, useRef } from "preact/hooks";

interface Props {
  url: string;
  filename: string;
  onClose: () => void;
}

/** The full image in a modal dialog: Escape, "Close" or a click beside the image closes it. */
export function ImageDialog({ url, filename, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
    return () => el?.close();
  }, []);

  return (
    <dialog
      ref={dialog}
      class="lightbox"
      aria-label={filename}
      onClose={onClose}
      onClick={(e) => {
        if (e.target === e.currentTarget) e.currentTarget.close();
      }}
      onKeyDown={(e) => {
        // The dialog closes itself on Escape; the embedded chat's own Escape (close the widget) waits.
        if (e.key === "Escape") e.stopPropagation();
      }}
    >
      <div class="lightbox-body">
        <img src={url} alt={filename} />
        <p class="lightbox-bar">
          <a href={url} target="_blank" rel="noopener">
            Open in a new tab
          </a>
          <button type="button" onClick={() => dialog.current?.close()}>
            Close
          </button>
        </p>
      </div>
    </dialog>
  );
}
