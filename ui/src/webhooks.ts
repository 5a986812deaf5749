// What the admins' "Failed webhooks" panel shows of a dead letter (GET /messaging/webhooks/failed),
// kept apart from the component so that the unit tests can check it.

import type { DeadLetter } from "./types";

/** When a delivery was given up, in the person's own time zone and locale, date and time to the second. */
export function failedAtText(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
}

/** "1 attempt", "7 attempts". */
export function attemptsText(attempts: number): string {
  return attempts === 1 ? "1 attempt" : `${attempts} attempts`;
}

/** The list without the dead letter `id` (once queued again, it is no longer one). */
export function withoutDeadLetter(letters: DeadLetter[], id: string): DeadLetter[] {
  return letters.filter((l) => l.id !== id);
}
