/** A refusal or failure, in the API's own words, next to the control that caused it. */
export function ErrorNote({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <p role="alert" class="error">
      {text}
    </p>
  );
}
