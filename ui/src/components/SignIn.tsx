/** Shown for a missing, malformed, expired or refused token: never a blank page. */
export function SignIn({ reason }: { reason: string | null }) {
  return (
    <main class="page narrow">
      <div role="alert" class="signin">
        <h1>Sign in needed</h1>
        {reason ? <p>The server said: {reason}</p> : null}
        <p>
          Open this page from the link your booking platform gives you (it carries your sign-in
          token), or start again from the <a href="/">start page</a>.
        </p>
      </div>
    </main>
  );
}
