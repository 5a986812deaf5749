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

/**
 * A message's text for a one-line mention (a quote, "Replying to", the conversation list): its
 * content, or what it carries when the content is blank ("Photo", "Voice message", file names).
 */
export function summaryOf(message: {
  content: string;
  messageType: string;
  attachments?: { filename: string; mimetype: string }[];
}): string {
  if (message.content.trim() !== "") return message.content;
  const files = message.attachments ?? [];
  if (files.length === 1 && files[0].mimetype.startsWith("audio/") && files[0].filename.startsWith("voice-")) {
    return "Voice message";
  }
  if (files.length > 0) return files.map((f) => f.filename).join(", ");
  if (message.messageType === "image") return "Photo";
  if (message.messageType === "file") return "Attachment";
  return message.content;
}

/** "Name: excerpt" of the message a reply quotes, or a stand-in when it is not loaded. */
export function quoteOf(session: Session, conversationId: string, quoted: Message | undefined): string {
  if (!quoted) return "an earlier message";
  const text = quoted.isDeleted ? "Message deleted" : excerpt(summaryOf(quoted));
  return `${nameOf(session, conversationId, quoted.sender)}: ${text}`;
}
