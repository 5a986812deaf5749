import { useEffect, useReducer } from "preact/hooks";
import type { Session } from "./session";
import type { Message } from "./types";

/** Re-renders the calling component whenever the session's store changes. */
export function useSession(session: Session): void {
  const [, force] = useReducer((n: number) => n + 1, 0);
  useEffect(() => session.store.subscribe(() => force(undefined)), [session]);
}

/** The person's display name for a user id, from the conversation's participants. */
export function nameOf(session: Session, conversationId: string, userId: string): string {
  if (userId === session.me.sub) return session.me.name;
  const participant = session.store.conversations
    .get(conversationId)
    ?.participants.find((p) => p.userId === userId);
  return participant?.name ?? userId;
}

/** A display name for a user id from any conversation the page holds (broadcasts name no conversation). */
export function anyNameOf(session: Session, userId: string): string {
  if (userId === session.me.sub) return session.me.name;
  for (const conversation of session.store.conversations.values()) {
    const participant = conversation.participants.find((p) => p.userId === userId);
    if (participant) return participant.name;
  }
  return userId;
}

export function timeOf(iso: string): string {
  const date = new Date(iso);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function excerpt(text: string, max = 80): string {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : text;
}

/** "Name: excerpt" of the message a reply quotes, or a stand-in when it is not loaded. */
export function quoteOf(session: Session, conversationId: string, quoted: Message | undefined): string {
  if (!quoted) return "an earlier message";
  const text = quoted.isDeleted ? "Message deleted" : excerpt(quoted.content);
  return `${nameOf(session, conversationId, quoted.sender)}: ${text}`;
}
