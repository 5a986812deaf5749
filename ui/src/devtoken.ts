// The dev form's two routes, which only `concierge serve --dev` answers (docs/ui.md). They are test
// fixtures, not part of the HTTP API, so docs/openapi.json does not list them and they stay outside
// the typed client (src/api/client.ts), which is the way to every route the document lists.

import { ApiError } from "./api/client";

/** Whether the server runs in dev mode (its minting route is there). */
export async function devMode(): Promise<boolean> {
  try {
    const response = await fetch("/test/socket-status", { cache: "no-store" });
    return response.ok;
  } catch {
    return false;
  }
}

export async function mintDevToken(input: {
  sub: string;
  role: string;
  name: string;
  bookings: string[];
}): Promise<string> {
  let response: Response;
  try {
    response = await fetch("/test/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(input),
    });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the server");
  }
  const envelope = (await response.json().catch(() => ({}))) as {
    message?: string;
    error?: string;
    data?: { token: string };
  };
  if (!response.ok || !envelope.data) {
    throw new ApiError(response.status, envelope.error ?? "internal", envelope.message ?? "Could not mint a token");
  }
  return envelope.data.token;
}
