// Where the UI gets its token (UI.md): the URL fragment `#token=`, the widget's iframe fragment, or the
// dev form; kept in sessionStorage so a reload stays signed in, and dropped from the address bar.

import type { Role } from "./types";

const KEY = "concierge.token";

export interface Claims {
  sub: string;
  role: Role;
  name: string;
  bookings: string[];
  exp: number;
}

/** Takes `#token=` out of the address bar into sessionStorage; returns the token to use, if any. */
export function takeToken(): string | null {
  const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const fromUrl = fragment.get("token");
  if (fromUrl !== null) {
    fragment.delete("token");
    const rest = fragment.toString();
    const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
    window.history.replaceState(window.history.state, "", url);
    storeToken(fromUrl);
    return fromUrl;
  }
  try {
    return window.sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string): void {
  try {
    window.sessionStorage.setItem(KEY, token);
  } catch {
    // Storage refused (a sandboxed frame): the token then lives for this page only.
  }
}

export function forgetToken(): void {
  try {
    window.sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
}

/**
 * The token's claims, read without verifying the signature (the server verifies every request); null
 * when the token is not a JWT with the claims API.md requires, or has expired.
 */
export function readClaims(token: string, nowSeconds = Date.now() / 1000): Claims | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  let payload: unknown;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    payload = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
  if (typeof payload !== "object" || payload === null) return null;
  const p = payload as Record<string, unknown>;
  if (typeof p.sub !== "string" || typeof p.exp !== "number") return null;
  if (p.role !== "customer" && p.role !== "admin" && p.role !== "service") return null;
  if (p.exp + 30 < nowSeconds) return null;
  const bookings = Array.isArray(p.bookings)
    ? p.bookings.filter((b): b is string => typeof b === "string")
    : [];
  return {
    sub: p.sub,
    role: p.role,
    name: typeof p.name === "string" && p.name !== "" ? p.name : p.sub,
    bookings,
    exp: p.exp,
  };
}
