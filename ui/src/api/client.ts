// The HTTP half of the one module that talks to the server (API.md). Every answer is the envelope;
// a refusal becomes an ApiError carrying the API's own message, which the UI shows as it is.

import type { Broadcast, Conversation, LogEvent, Message, Status } from "./types";

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
  messages: Message[];
  hasMore: boolean;
}

export interface ConversationPage {
  conversations: Conversation[];
  page: number;
  pages: number;
}

export interface History {
  conversation: Conversation;
  messages: Message[];
  asOfSeq: number;
}

export interface SendBody {
  content: string;
  replyTo: string | null;
  clientMessageId: string;
}

export class Api {
  constructor(
    private readonly token: string,
    private readonly base = "",
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", "Cannot reach the server");
    }
    let envelope: { success?: boolean; message?: string; error?: string; data?: T };
    try {
      envelope = await response.json();
    } catch {
      throw new ApiError(response.status, "internal", `The server answered ${response.status}`);
    }
    if (!response.ok || envelope.success !== true) {
      throw new ApiError(
        response.status,
        envelope.error ?? "internal",
        envelope.message ?? `The server answered ${response.status}`,
      );
    }
    return envelope.data as T;
  }

  conversationByBooking(bookingId: string): Promise<Conversation> {
    return this.request("GET", `/messaging/conversations/booking/${encodeURIComponent(bookingId)}`);
  }

  conversation(id: string): Promise<Conversation> {
    return this.request("GET", `/messaging/conversations/${id}`);
  }

  async conversations(status: Status | null, page: number): Promise<ConversationPage> {
    const query = new URLSearchParams({ page: String(page), limit: "50" });
    if (status) query.set("status", status);
    const data = await this.request<{
      conversations: Conversation[];
      pagination: { page: number; pages: number };
    }>("GET", `/messaging/conversations?${query}`);
    return { conversations: data.conversations, page: data.pagination.page, pages: data.pagination.pages };
  }

  /** The newest page, or the page just older than `before`; reading marks the conversation read. */
  async messages(conversationId: string, before: string | null, limit = 50): Promise<MessagePage> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before) query.set("before", before);
    const data = await this.request<{ messages: Message[]; pagination: { hasMore: boolean } }>(
      "GET",
      `/messaging/conversations/${conversationId}/messages?${query}`,
    );
    return { messages: data.messages, hasMore: data.pagination.hasMore };
  }

  send(conversationId: string, body: SendBody): Promise<Message> {
    return this.request("POST", `/messaging/conversations/${conversationId}/messages`, {
      content: body.content,
      messageType: "text",
      replyTo: body.replyTo,
      clientMessageId: body.clientMessageId,
    });
  }

  edit(conversationId: string, messageId: string, content: string): Promise<Message> {
    return this.request("PATCH", `/messaging/conversations/${conversationId}/messages/${messageId}`, {
      content,
    });
  }

  remove(conversationId: string, messageId: string): Promise<Message> {
    return this.request("DELETE", `/messaging/conversations/${conversationId}/messages/${messageId}`);
  }

  react(conversationId: string, messageId: string, emoji: string): Promise<Message> {
    return this.request(
      "POST",
      `/messaging/conversations/${conversationId}/messages/${messageId}/reactions`,
      { emoji },
    );
  }

  unreact(conversationId: string, messageId: string, emoji: string): Promise<Message> {
    return this.request(
      "DELETE",
      `/messaging/conversations/${conversationId}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`,
    );
  }

  setStatus(conversationId: string, status: Status): Promise<Conversation> {
    return this.request("PUT", `/messaging/conversations/${conversationId}/status`, { status });
  }

  broadcast(content: string, audience: string): Promise<Broadcast> {
    return this.request("POST", "/messaging/admin/broadcast", { content, audience });
  }

  /** Every event of a conversation, oldest first (route 14), following `nextAfter` to the end. */
  async events(conversationId: string): Promise<LogEvent[]> {
    const all: LogEvent[] = [];
    let after = 0;
    for (;;) {
      const data = await this.request<{ events: LogEvent[]; nextAfter: number | null }>(
        "GET",
        `/messaging/conversations/${conversationId}/events?after=${after}&limit=1000`,
      );
      all.push(...data.events);
      if (data.nextAfter === null || data.events.length < 1000) return all;
      after = data.nextAfter;
    }
  }

  history(conversationId: string, atSeq: number): Promise<History> {
    return this.request("GET", `/messaging/conversations/${conversationId}/history?at=${atSeq}`);
  }
}

/** The dev form's minting route (`--dev` only); null when the server is not in dev mode. */
export async function devMode(): Promise<boolean> {
  try {
    const response = await fetch("/test/socket-status", { cache: "no-store" });
    return response.ok;
  } catch {
    return false;
  }
}

export async function mintDevToken(input: {
  sub: string;
  role: string;
  name: string;
  bookings: string[];
}): Promise<string> {
  let response: Response;
  try {
    response = await fetch("/test/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(input),
    });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the server");
  }
  const envelope = (await response.json().catch(() => ({}))) as {
    message?: string;
    error?: string;
    data?: { token: string };
  };
  if (!response.ok || !envelope.data) {
    throw new ApiError(response.status, envelope.error ?? "internal", envelope.message ?? "Could not mint a token");
  }
  return envelope.data.token;
}
