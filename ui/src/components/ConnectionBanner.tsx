import type { ConnectionState } from "../live";

/** The live region UI.md names: "Reconnecting…" while the socket is down, empty otherwise. */
export function ConnectionBanner({ state }: { state: ConnectionState }) {
  return (
    <div role="status" class="banner" aria-live="polite">
      {state === "offline" ? "Reconnecting…" : ""}
    </div>
  );
}
