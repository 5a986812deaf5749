// The support inbox's logic (docs/inbox.md, issue 17), kept apart from the components so that the unit
// tests can check what a person sees: which messages a customer is shown, the list's filters and
// order, the waiting time, canned-reply suggestions, snooze times, labels and the assignee choices.

import type { ListQuery } from "./api/client";
import type { CannedReply, Conversation, Message, Priority, Role } from "./types";

export const PRIORITIES: [Priority, string][] = [
  ["low", "Low"],
  ["normal", "Normal"],
  ["high", "High"],
  ["urgent", "Urgent"],
];

export function priorityOf(conversation: Conversation): Priority {
  return conversation.priority ?? "normal";
}

export function priorityLabel(priority: Priority): string {
  return PRIORITIES.find(([p]) => p === priority)?.[1] ?? priority;
}

/**
 * The messages a person is shown. A customer is never shown a note: the server never sends one to a
 * customer, and the page drops any that would arrive anyway (defence in depth).
 */
export function visibleMessages(messages: Message[], role: Role): Message[] {
  if (role === "admin") return messages;
  return messages.filter((m) => m.internal !== true);
}

/** True when a message is an admins' note. */
export function isNote(message: { internal?: boolean }): boolean {
  return message.internal === true;
}

// ---- The conversation list

/** Does a conversation pass the list's filters (the same rules as route 1's query)? */
export function matches(conversation: Conversation, query: ListQuery, me: string): boolean {
  if (query.status !== null && conversation.status !== query.status) return false;
  if (query.assignee === "me" && conversation.assignee !== me) return false;
  if (query.assignee === "none" && (conversation.assignee ?? null) !== null) return false;
  if (query.label !== null && !(conversation.labels ?? []).includes(query.label)) return false;
  if (query.priority !== null && priorityOf(conversation) !== query.priority) return false;
  return true;
}

function newestFirst(a: Conversation, b: Conversation): number {
  return Date.parse(b.updatedAt) - Date.parse(a.updatedAt) || (a.id < b.id ? 1 : -1);
}

/**
 * Every conversation held that passes the filters, in the list's order: newest activity first, or
 * (`sort: "waiting"`) those waiting longest first (oldest `waitingSince`), then the others newest first.
 */
export function visibleConversations(all: Iterable<Conversation>, query: ListQuery, me: string): Conversation[] {
  const list = [...all].filter((c) => matches(c, query, me));
  if (query.sort !== "waiting") return list.sort(newestFirst);
  return list.sort((a, b) => {
    const wa = a.waitingSince ? Date.parse(a.waitingSince) : null;
    const wb = b.waitingSince ? Date.parse(b.waitingSince) : null;
    if (wa !== null && wb !== null) return wa - wb || newestFirst(a, b);
    if (wa !== null) return -1;
    if (wb !== null) return 1;
    return newestFirst(a, b);
  });
}

/** Every label of the conversations held, sorted, for the label filter. */
export function knownLabels(all: Iterable<Conversation>): string[] {
  const labels = new Set<string>();
  for (const c of all) for (const l of c.labels ?? []) labels.add(l);
  return [...labels].sort((a, b) => a.localeCompare(b));
}

/** A span of time in words, coarse: "less than a minute", "12 min", "2 h 5 min", "3 d 4 h". */
export function spanText(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 1) return "less than a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** "waiting 12 min" for a conversation whose customer waits since `since`; null when nobody waits. */
export function waitingText(since: string | null | undefined, now: number): string | null {
  if (!since) return null;
  const at = Date.parse(since);
  if (Number.isNaN(at)) return null;
  return `waiting ${spanText(now - at)}`;
}

/** A duration the server measured, in words: "1 min 35 s" under an hour, else as spanText. */
export function durationWords(ms: number): string {
  const seconds = Math.round(Math.max(0, ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) {
    const s = seconds % 60;
    return s ? `${Math.floor(seconds / 60)} min ${s} s` : `${Math.floor(seconds / 60)} min`;
  }
  return spanText(ms);
}

// ---- Canned replies

/**
 * The canned replies to suggest for what is in the message box: null unless the text starts with `/`
 * and is still one word (the shortcut being typed); else the replies whose shortcut starts with what
 * follows the `/`, then those whose shortcut or title merely contains it, each group by shortcut.
 */
export function cannedMatches(replies: CannedReply[], text: string): CannedReply[] | null {
  if (!text.startsWith("/") || /\s/.test(text)) return null;
  const wanted = text.slice(1).toLowerCase();
  const sorted = [...replies].sort((a, b) => (a.shortcut < b.shortcut ? -1 : a.shortcut > b.shortcut ? 1 : 0));
  const starts = sorted.filter((r) => r.shortcut.startsWith(wanted));
  const contains = sorted.filter(
    (r) => !r.shortcut.startsWith(wanted) && (r.shortcut.includes(wanted) || r.title.toLowerCase().includes(wanted)),
  );
  return [...starts, ...contains];
}

/** A shortcut the server takes: 1–32 characters of `[a-z0-9_-]`. */
export function validShortcut(shortcut: string): boolean {
  return /^[a-z0-9_-]{1,32}$/.test(shortcut);
}

// ---- Snooze

/** RFC 3339 in UTC with milliseconds, as the status route takes `until`. */
export function rfc3339(date: Date): string {
  return date.toISOString();
}

/** The quick choices of the snooze picker, from `now` (local time for "tomorrow 9:00"). */
export function snoozeChoices(now: Date): { label: string; until: Date }[] {
  const hour = new Date(now.getTime() + 3_600_000);
  const fourHours = new Date(now.getTime() + 4 * 3_600_000);
  const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, 9, 0, 0, 0);
  const daysToMonday = ((8 - now.getDay()) % 7) || 7;
  const monday = new Date(now.getFullYear(), now.getMonth(), now.getDate() + daysToMonday, 9, 0, 0, 0);
  return [
    { label: "1 hour", until: hour },
    { label: "4 hours", until: fourHours },
    { label: "Tomorrow 9:00", until: tomorrow },
    { label: "Monday 9:00", until: monday },
  ];
}

/** A date as a datetime-local input shows it (local time, minutes): "2026-12-04T09:00". */
export function localInputValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** A datetime-local input's value (local time) as a Date; null when empty or not a time. */
export function fromLocalInput(value: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return null;
  const date = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0, 0);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Why a snooze time will be refused (in the past, more than 365 days ahead), or null. */
export function snoozeProblem(until: Date | null, now: Date): string | null {
  if (!until) return "Choose a date and time.";
  if (until.getTime() <= now.getTime()) return "Choose a time in the future.";
  if (until.getTime() - now.getTime() > 365 * 86_400_000) return "At most 365 days ahead.";
  return null;
}

// ---- Labels

/** Adds a label as the server keeps them (trimmed, once, at most 20 of at most 32 characters). */
export function addLabel(labels: string[], raw: string): { labels: string[] } | { error: string } {
  const label = raw.trim();
  if (label === "") return { error: "A label cannot be blank." };
  if ([...label].length > 32) return { error: "A label has at most 32 characters." };
  // Control characters (C0, DEL, C1) are refused by the server.
  if ([...label].some((ch) => { const c = ch.codePointAt(0)!; return c < 0x20 || (c >= 0x7f && c < 0xa0); })) {
    return { error: "A label cannot hold control characters." };
  }
  if (labels.includes(label)) return { labels };
  if (labels.length >= 20) return { error: "At most 20 labels." };
  return { labels: [...labels, label] };
}

export function removeLabel(labels: string[], label: string): string[] {
  return labels.filter((l) => l !== label);
}

// ---- Assignment

export interface AssigneeOption {
  /** "" for nobody. */
  value: string;
  label: string;
}

/**
 * The choices of "Assignee": Unassigned, "Me (<name>)", the conversation's admin participants, the
 * admins seen as assignees of the conversations held, and the current assignee whoever it is.
 */
export function assigneeOptions(
  conversation: Conversation,
  all: Iterable<Conversation>,
  me: { sub: string; name: string },
  nameOf: (userId: string) => string,
): AssigneeOption[] {
  const options: AssigneeOption[] = [
    { value: "", label: "Unassigned" },
    { value: me.sub, label: `Me (${me.name})` },
  ];
  const seen = new Set(["", me.sub]);
  const offer = (userId: string, name: string) => {
    if (seen.has(userId)) return;
    seen.add(userId);
    options.push({ value: userId, label: name });
  };
  for (const p of conversation.participants) if (p.role === "admin") offer(p.userId, p.name);
  const others: string[] = [];
  for (const c of all) if (c.assignee) others.push(c.assignee);
  if (conversation.assignee) others.push(conversation.assignee);
  for (const userId of others) offer(userId, nameOf(userId));
  return options;
}

// ---- Rating

/** What the customer's chat shows about rating: nothing (not closed), the prompt, or the thanks. */
export function ratingState(conversation: Conversation, ratedHere: boolean): "none" | "prompt" | "thanks" {
  if (ratedHere || (conversation.rating ?? null) !== null) return "thanks";
  return conversation.status === "closed" ? "prompt" : "none";
}
