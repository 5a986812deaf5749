import { render } from "preact";
import { ChatPage } from "./components/ChatPage";
import { InboxPage } from "./components/InboxPage";
import { SignIn } from "./components/SignIn";
import { StartPage } from "./components/StartPage";
import { Session } from "./session";
import { readClaims, takeToken } from "./token";
import "./styles.css";

/** One page per path (UI.md's table); every page but the start page needs a usable token. */
function page() {
  const token = takeToken();
  const claims = token ? readClaims(token) : null;
  const path = window.location.pathname.replace(/\/+$/, "") || "/";
  if (path === "/") return <StartPage claims={claims} />;
  if (path !== "/chat" && path !== "/inbox") {
    return (
      <main class="page narrow">
        <h1>Page not found</h1>
        <p>
          <a href="/">Go to the start page</a>
        </p>
      </main>
    );
  }
  if (!token || !claims || claims.role === "service") {
    return <SignIn reason={token && !claims ? "the token is malformed or has expired" : null} />;
  }
  const session = new Session(token, claims);
  const query = new URLSearchParams(window.location.search);
  if (path === "/chat") {
    return <ChatPage session={session} bookingId={query.get("booking")} embedded={query.get("embed") === "1"} />;
  }
  return <InboxPage session={session} />;
}

render(page(), document.getElementById("app")!);
