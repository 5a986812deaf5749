// The HTTP half of the one module that talks to the server (docs/api.md): every REST call of the UI
// goes through `Api`, a typed client over `paths` from ./schema.d.ts, which `npm run gen:api`
// generates from docs/openapi.json (docs/ui.md, "The typed API client").
//
// Why openapi-fetch and not a hand-written wrapper: its types already do what a wrapper would have
// to redo — the path must be one the document lists with that method, its `{params}` are required
// and typed, the query and the JSON body are checked against the operation, and `data` is the
// union of the operation's 2xx bodies — and they are maintained by openapi-typescript's authors for
// exactly its output. At run time it is one small function over fetch (no dependencies of its own).
// So `tsc --noEmit` (part of `npm run build`) fails when the UI and the document disagree: a renamed
// field, a removed route, a wrong body. What stays ours is the envelope: every answer is
// `{success, message, data}` or `{success: false, message, error}`, and a refusal becomes an
// ApiError carrying the API's own message, which the UI shows as it is.

import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema";

/** The document's named schemas (`components.schemas`). */
export type Schemas = components["schemas"];

export class ApiError extends Error {
  /** HTTP status, or 0 when the server could not be reached. */
  readonly status: number;
  /** The envelope's `error` code, or `network`. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** True when trying again later may succeed: nothing reached the server, or it could not write. */
  get retryable(): boolean {
    return this.code === "network" || this.code === "unavailable" || this.code === "timeout";
  }
}

export interface MessagePage {
  messages: Schemas["Message"][];
  hasMore: boolean;
}

/** A page of search results, newest first; `nextCursor` is null on the last page. */
export interface SearchPage {
  results: Schemas["SearchResult"][];
  nextCursor: string | null;
}

type Conversation = components["schemas"]["Conversation"];
type Message = components["schemas"]["Message"];
type Status = components["schemas"]["Status"];
type Priority = components["schemas"]["Priority"];

export interface ConversationPage {
  conversations: Conversation[];
  page: number;
  pages: number;
}

export type History = Schemas["History"];

export interface SendBody {
  content: string;
  replyTo: string | null;
  clientMessageId: string;
  /** An admins' note (docs/inbox.md): text only, never shown to the customer. */
  internal?: boolean;
}

/** What the conversation list asks for (route 1's query; `assignee`, `label`, `priority`, `sort`: docs/inbox.md). */
export interface ListQuery {
  status: Status | null;
  /** `me`, `none`, or null for everybody's. */
  assignee: "me" | "none" | null;
  label: string | null;
  priority: Priority | null;
  sort: "updated" | "waiting";
}

/** What the search box asks for (`GET /messaging/search`); `conversationId` limits it to one conversation. */
export interface SearchQuery {
  q: string;
  conversationId?: string | null;
  cursor?: string | null;
  limit?: number;
}

export const ANY: ListQuery = { status: null, assignee: null, label: null, priority: null, sort: "updated" };

/** What an openapi-fetch call resolves to, seen from the envelope: `data` on a 2xx, else `error`. */
interface Answer<T> {
  data?: { success: boolean; message?: string; data: T };
  error?: unknown;
  response: Response;
}

/** Unwraps the envelope of a call; a refusal, or an answer that is not the envelope, throws ApiError. */
async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await call;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    // A 2xx whose body is not JSON (openapi-fetch parses it and throws).
    throw new ApiError(0, "internal", "The server's answer could not be read");
  }
  const { data, error, response } = answer;
  if (response.ok && data?.success === true) return data.data;
  const refusal = (typeof error === "object" && error !== null ? error : {}) as {
    message?: unknown;
    error?: unknown;
  };
  throw new ApiError(
    response.status,
    typeof refusal.error === "string" ? refusal.error : "internal",
    typeof refusal.message === "string" ? refusal.message : `The server answered ${response.status}`,
  );
}

export class Api {
  private readonly client: Client<paths>;

  /** `base` is the server's origin ("" for this page's); `fetchImpl` lets the unit tests answer. */
  constructor(token: string, base = "", fetchImpl?: (request: Request) => Promise<Response>) {
    this.client = createClient<paths>({
      baseUrl: base,
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
      fetch: async (request: Request) => {
        try {
          return await (fetchImpl ?? globalThis.fetch)(request);
        } catch {
          throw new ApiError(0, "network", "Cannot reach the server");
        }
      },
    });
  }

  conversationByBooking(bookingId: string): Promise<Schemas["Conversation"]> {
    return unwrap(
      this.client.GET("/messaging/conversations/booking/{bookingId}", {
        params: { path: { bookingId } },
      }),
    );
  }

  conversation(conversationId: string): Promise<Schemas["Conversation"]> {
    return unwrap(
      this.client.GET("/messaging/conversations/{conversationId}", {
        params: { path: { conversationId } },
      }),
    );
  }

  async conversations(query: ListQuery, page: number): Promise<ConversationPage> {
    const data = await unwrap(
      this.client.GET("/messaging/conversations", {
        params: {
          query: {
            page,
            limit: 50,
            ...(query.status ? { status: query.status } : {}),
            ...(query.assignee ? { assignee: query.assignee } : {}),
            ...(query.label ? { label: query.label } : {}),
            ...(query.priority ? { priority: query.priority } : {}),
            ...(query.sort !== "updated" ? { sort: query.sort } : {}),
          },
        },
      }),
    );
    return {
      conversations: data.conversations,
      page: data.pagination.page ?? page,
      pages: data.pagination.pages,
    };
  }

  /** The newest page, or the page just older than `before`; reading marks the conversation read. */
  async messages(conversationId: string, before: string | null, limit = 50): Promise<MessagePage> {
    const data = await unwrap(
      this.client.GET("/messaging/conversations/{conversationId}/messages", {
        params: { path: { conversationId }, query: { limit, ...(before ? { before } : {}) } },
      }),
    );
    return { messages: data.messages, hasMore: data.pagination.hasMore ?? false };
  }

  send(conversationId: string, body: SendBody): Promise<Message> {
    return unwrap(
      this.client.POST("/messaging/conversations/{conversationId}/messages", {
        params: { path: { conversationId } },
        body: {
          content: body.content,
          messageType: "text",
          replyTo: body.replyTo,
          clientMessageId: body.clientMessageId,
          ...(body.internal ? { internal: true } : {}),
        },
      }),
    );
  }

  edit(conversationId: string, messageId: string, content: string): Promise<Schemas["Message"]> {
    return unwrap(
      this.client.PATCH("/messaging/conversations/{conversationId}/messages/{messageId}", {
        params: { path: { conversationId, messageId } },
        body: { content },
      }),
    );
  }

  remove(conversationId: string, messageId: string): Promise<Schemas["Message"]> {
    return unwrap(
      this.client.DELETE("/messaging/conversations/{conversationId}/messages/{messageId}", {
        params: { path: { conversationId, messageId } },
      }),
    );
  }

  react(conversationId: string, messageId: string, emoji: string): Promise<Schemas["Message"]> {
    return unwrap(
      this.client.POST("/messaging/conversations/{conversationId}/messages/{messageId}/reactions", {
        params: { path: { conversationId, messageId } },
        body: { emoji },
      }),
    );
  }

  unreact(conversationId: string, messageId: string, emoji: string): Promise<Schemas["Message"]> {
    return unwrap(
      this.client.DELETE(
        "/messaging/conversations/{conversationId}/messages/{messageId}/reactions/{emoji}",
        { params: { path: { conversationId, messageId, emoji } } },
      ),
    );
  }

  /** Route 11; `until` (RFC 3339) goes with `snoozed` only (docs/inbox.md). */
  setStatus(conversationId: string, status: Status, until?: string): Promise<Conversation> {
    return unwrap(
      this.client.PUT("/messaging/conversations/{conversationId}/status", {
        params: { path: { conversationId } },
        body: { status, ...(status === "snoozed" ? { until: until ?? null } : {}) },
      }),
    );
  }

  // ---- The support inbox (docs/inbox.md)

  /** `null` unassigns. */
  setAssignee(conversationId: string, userId: string | null): Promise<Conversation> {
    return unwrap(
      this.client.PUT("/messaging/conversations/{conversationId}/assignee", {
        params: { path: { conversationId } },
        body: { userId },
      }),
    );
  }

  setLabels(conversationId: string, labels: string[]): Promise<Conversation> {
    return unwrap(
      this.client.PUT("/messaging/conversations/{conversationId}/labels", {
        params: { path: { conversationId } },
        body: { labels },
      }),
    );
  }

  setPriority(conversationId: string, priority: Priority): Promise<Conversation> {
    return unwrap(
      this.client.PUT("/messaging/conversations/{conversationId}/priority", {
        params: { path: { conversationId } },
        body: { priority },
      }),
    );
  }

  /** The customer's rating of their closed conversation (once). */
  rate(conversationId: string, score: number, comment: string | null): Promise<Schemas["Rating"]> {
    return unwrap(
      this.client.POST("/messaging/conversations/{conversationId}/rating", {
        params: { path: { conversationId } },
        body: { score, ...(comment ? { comment } : {}) },
      }),
    );
  }

  async cannedReplies(): Promise<Schemas["CannedReply"][]> {
    const data = await unwrap(this.client.GET("/messaging/canned-replies", {}));
    return data.cannedReplies;
  }

  putCannedReply(shortcut: string, title: string, content: string): Promise<Schemas["CannedReply"]> {
    return unwrap(
      this.client.PUT("/messaging/canned-replies/{shortcut}", {
        params: { path: { shortcut } },
        body: { title, content },
      }),
    );
  }

  deleteCannedReply(shortcut: string): Promise<Schemas["CannedReply"]> {
    return unwrap(this.client.DELETE("/messaging/canned-replies/{shortcut}", { params: { path: { shortcut } } }));
  }

  broadcast(content: string, audience: Schemas["Audience"]): Promise<Schemas["BroadcastSent"]> {
    return unwrap(this.client.POST("/messaging/admin/broadcast", { body: { content, audience } }));
  }

  // ---- Message search (issue 19)

  /**
   * A page of the messages matching `q`, newest first (a customer's own conversations only, without
   * notes; an admin's all). `cursor` is the previous page's `nextCursor`, with the same other fields.
   */
  async search(query: SearchQuery): Promise<SearchPage> {
    const data = await unwrap(
      this.client.GET("/messaging/search", {
        params: {
          query: {
            q: query.q,
            ...(query.conversationId ? { conversationId: query.conversationId } : {}),
            ...(query.limit ? { limit: query.limit } : {}),
            ...(query.cursor ? { cursor: query.cursor } : {}),
          },
        },
      }),
    );
    return { results: data.results, nextCursor: data.nextCursor ?? null };
  }

  // ---- Webhook dead letters (admins)

  /** The webhook deliveries that failed until `WEBHOOK_MAX_AGE`, oldest failure first. */
  async failedWebhooks(): Promise<Schemas["DeadLetter"][]> {
    const data = await unwrap(this.client.GET("/messaging/webhooks/failed", {}));
    return data.deadLetters;
  }

  /** Queues a dead letter again (same `webhook-id` and body); 404 once it is gone. */
  redeliverWebhook(deliveryId: string): Promise<Schemas["Redelivered"]> {
    return unwrap(
      this.client.POST("/messaging/webhooks/failed/{deliveryId}/redeliver", {
        params: { path: { deliveryId } },
      }),
    );
  }

  /** Every event of a conversation, oldest first (route 14), following `nextAfter` to the end. */
  async events(conversationId: string): Promise<Schemas["StoredEvent"][]> {
    const all: Schemas["StoredEvent"][] = [];
    let after = 0;
    for (;;) {
      const data = await unwrap(
        this.client.GET("/messaging/conversations/{conversationId}/events", {
          params: { path: { conversationId }, query: { after, limit: 1000 } },
        }),
      );
      all.push(...data.events);
      if (data.nextAfter === null || data.events.length < 1000) return all;
      after = data.nextAfter;
    }
  }

  history(conversationId: string, atSeq: number): Promise<History> {
    return unwrap(
      this.client.GET("/messaging/conversations/{conversationId}/history", {
        params: { path: { conversationId }, query: { at: String(atSeq) } },
      }),
    );
  }
}
