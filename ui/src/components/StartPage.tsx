import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { devMode, mintDevToken } from "../devtoken";
import { readClaims, storeToken, type Claims } from "../token";
import { ErrorNote } from "./ErrorNote";

/** Where a signed-in person belongs: a customer's booking chat, or the admin inbox. */
export function destination(claims: Claims): string | null {
  if (claims.role === "admin") return "/inbox";
  if (claims.role === "customer" && claims.bookings.length === 1) {
    return `/chat?booking=${encodeURIComponent(claims.bookings[0])}`;
  }
  return null;
}

/** `/`: forwards a token to its page; in `--dev` mode also mints one for trying the UI by hand. */
export function StartPage({ claims }: { claims: Claims | null }) {
  const [dev, setDev] = useState(false);
  const [sub, setSub] = useState("");
  const [role, setRole] = useState("customer");
  const [name, setName] = useState("");
  const [bookings, setBookings] = useState("");
  const [error, setError] = useState<string | null>(null);
  const target = claims ? destination(claims) : null;

  useEffect(() => {
    if (target) window.location.replace(target);
    else devMode().then(setDev);
  }, [target]);

  const signIn = () => {
    setError(null);
    const list = bookings
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b !== "");
    mintDevToken({ sub: sub.trim(), role, name: name.trim(), bookings: list }).then(
      (token) => {
        const minted = readClaims(token);
        storeToken(token);
        const next = minted ? destination(minted) : null;
        window.location.assign(next ?? "/");
      },
      (e: unknown) => setError(e instanceof ApiError ? e.message : "Could not sign in"),
    );
  };

  return (
    <main class="page narrow start">
      <h1>Concierge</h1>
      {target ? <p>Opening {target}…</p> : null}
      {claims && !target ? (
        claims.role === "customer" && claims.bookings.length > 1 ? (
          <nav aria-label="Your bookings">
            <p>Signed in as {claims.name}. Choose a booking:</p>
            <ul>
              {claims.bookings.map((b) => (
                <li key={b}>
                  <a href={`/chat?booking=${encodeURIComponent(b)}`}>Booking {b}</a>
                </li>
              ))}
            </ul>
          </nav>
        ) : (
          <p role="alert">
            Signed in as {claims.name}, but this token names no booking to chat about. Open the chat
            from your booking's page.
          </p>
        )
      ) : null}
      {!claims ? (
        <p>
          Customers reach their chat from their booking's page, and support admins their inbox, with
          the link the booking platform gives them.
        </p>
      ) : null}
      {dev && !target ? (
        <form
          class="dev"
          onSubmit={(e) => {
            e.preventDefault();
            signIn();
          }}
        >
          <h2>Try it (dev mode)</h2>
          <p>Mint a token as anyone. Open a second window to chat as someone else.</p>
          <label>
            User id
            <input value={sub} required onInput={(e) => setSub(e.currentTarget.value)} placeholder="cus_7" />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.currentTarget.value)}>
              <option value="customer">customer</option>
              <option value="admin">admin</option>
            </select>
          </label>
          <label>
            Display name
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="Ann" />
          </label>
          <label>
            Bookings
            <input
              value={bookings}
              onInput={(e) => setBookings(e.currentTarget.value)}
              placeholder="bk_1042 (comma separated, customers)"
            />
          </label>
          <button type="submit" class="primary">
            Sign in
          </button>
          <ErrorNote text={error} />
        </form>
      ) : null}
    </main>
  );
}
