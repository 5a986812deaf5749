// The shapes the UI reads. What the HTTP API returns is derived from the generated schema
// (src/api/schema.d.ts, `npm run gen:api` from docs/openapi.json), so a change to the document shows
// up here and `tsc` points at every use it breaks. The socket events (docs/socketio.md, not in the
// document) carry the same Message and Conversation; only their own shapes are written out here.

import type { Schemas } from "./api/client";

export type Role = Schemas["Role"];
/** `snoozed` comes with the support inbox (docs/inbox.md). */
export type Status = Schemas["Status"] | "snoozed";
export type Audience = Schemas["Audience"];
export type Participant = Schemas["Participant"];
export type LastMessage = Schemas["LastMessage"];
export type Reaction = Schemas["Reaction"];

// ---- The support inbox (docs/inbox.md, issue 17). PROVISIONAL: typed by hand from the contract
// until docs/openapi.json carries these schemas; then they become aliases of Schemas like the rest.

export type Priority = "low" | "normal" | "high" | "urgent";

/** The customer's rating of a closed conversation. */
export interface Rating {
  score: number;
  comment: string | null;
  ratedAt: string;
}

/** What an admin's Conversation carries besides route 1's fields; a customer's carries only `rating`. */
export interface InboxFields {
  assignee?: string | null;
  labels?: string[];
  priority?: Priority;
  snoozedUntil?: string | null;
  waitingSince?: string | null;
  firstResponseMs?: number | null;
  resolutionMs?: number | null;
  rating?: Rating | null;
}

export type Conversation = Omit<Schemas["Conversation"], "status"> & InboxFields & { status: Status };

/** Every Message carries `internal`: true on an admins' note (never sent to a customer). */
export type Message = Schemas["Message"] & { internal?: boolean };

/** A saved reply shared by every admin. */
export interface CannedReply {
  shortcut: string;
  title: string;
  content: string;
  updatedAt: string;
  updatedBy: string;
}

/** `POST …/rating`'s answer. */
export interface RatingSaved {
  conversationId: string;
  score: number;
  comment: string | null;
  ratedAt: string;
}

/** The `mentioned` socket event: an admin named this user in a note. */
export interface Mention {
  conversationId: string;
  message: Message;
  by: string;
}

/**
 * An attachment as messages carry it. An upload (route 16) has an `id`, signed same-origin URLs
 * (`url`, `thumbnailUrl`: signed anew at every read, so the newest copy of a message has the URLs
 * that work) and what the server measured; an outside-URL attachment has `null` there.
 */
export type Attachment = Schemas["Attachment"];

/** One event of route 14, as stored in the log. */
export type LogEvent = Schemas["StoredEvent"];

/** The `admin_broadcast` socket event (docs/events.md); route 13 answers the same fields. */
export interface Broadcast {
  id: string;
  content: string;
  from: string;
  audience: Audience;
  at: string;
}
