// The shapes the UI reads. What the HTTP API returns is derived from the generated schema
// (src/api/schema.d.ts, `npm run gen:api` from docs/openapi.json), so a change to the document shows
// up here and `tsc` points at every use it breaks. The socket events (docs/socketio.md, not in the
// document) carry the same Message and Conversation; only their own shapes are written out here.

import type { Schemas } from "./api/client";

export type Role = Schemas["Role"];
/** `snoozed` came with the support inbox (docs/inbox.md). */
export type Status = Schemas["Status"];
export type Audience = Schemas["Audience"];
export type Participant = Schemas["Participant"];
export type LastMessage = Schemas["LastMessage"];
export type Reaction = Schemas["Reaction"];

// ---- The support inbox (docs/inbox.md, issue 17).

export type Priority = Schemas["Priority"];

/** The customer's rating of a closed conversation (`conversationId` only in the rating route's answer). */
export type Rating = Schemas["Rating"];

/**
 * A conversation as the caller sees it. An admin's carries the inbox's fields (assignee, labels,
 * priority, snoozedUntil, waitingSince, firstResponseMs, resolutionMs); a customer's only `rating`.
 */
export type Conversation = Schemas["Conversation"];

/** Every Message carries `internal`: true on an admins' note (never sent to a customer). */
export type Message = Schemas["Message"];

/** A saved reply shared by every admin. */
export type CannedReply = Schemas["CannedReply"];

/** A webhook delivery that failed until `WEBHOOK_MAX_AGE` (admins' "Failed webhooks"). */
export type DeadLetter = Schemas["DeadLetter"];

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

/**
 * A message found by `GET /messaging/search`: ids, sender, time, `internal`, and a `snippet` with
 * `highlights`, `[start, end)` ranges in Unicode code points (issue 19).
 */
export type SearchResult = Schemas["SearchResult"];

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
