// Messages the person has sent that the server has not confirmed yet. Each carries a clientMessageId
// from the moment it is typed, so sending it again after a lost connection can never store it twice
// (API.md route 4): the server answers a repeat with the original.

import { ApiError } from "./api/client";
import type { Attachment, Message } from "./types";

export type PendingState = "queued" | "sending" | "failed";

export interface Pending {
  clientMessageId: string;
  conversationId: string;
  content: string;
  replyTo: string | null;
  /** Uploaded attachments (route 16) that go with it, by id. */
  attachments: Attachment[];
  /** An admins' note (docs/inbox.md): text only, never shown to the customer. */
  internal: boolean;
  state: PendingState;
  /** The API's own words when the server refused it. */
  error: string | null;
  attempts: number;
}

export type Deliver = (pending: Pending) => Promise<Message>;

/** Attempts per message while connected before it is shown as not sent (the person can retry). */
const MAX_ATTEMPTS = 4;

export class Outbox {
  readonly items: Pending[] = [];
  private online = false;
  /** Which attempt of an item is current: a refusal of an older attempt is ignored (its success is not). */
  private readonly attemptOf = new Map<string, number>();

  constructor(
    private readonly deliver: Deliver,
    private readonly onChange: () => void,
    private readonly onDelivered: (message: Message) => void,
    private readonly newId: () => string = () => crypto.randomUUID(),
    private readonly later: (fn: () => void, ms: number) => void = (fn, ms) => void setTimeout(fn, ms),
  ) {}

  add(
    conversationId: string,
    content: string,
    replyTo: string | null,
    attachments: Attachment[] = [],
    internal = false,
  ): Pending {
    const pending: Pending = {
      clientMessageId: this.newId(),
      conversationId,
      content,
      replyTo,
      attachments: internal ? [] : attachments,
      internal,
      state: "queued",
      error: null,
      attempts: 0,
    };
    this.items.push(pending);
    this.onChange();
    this.flush();
    return pending;
  }

  /** Connection up: send what waits. Connection down: what was in flight waits for the next one. */
  setOnline(online: boolean): void {
    this.online = online;
    if (!online) {
      for (const item of this.items) {
        if (item.state === "sending") item.state = "queued";
      }
      this.onChange();
      return;
    }
    for (const item of this.items) if (item.state === "queued") item.attempts = 0;
    this.flush();
  }

  /** The server confirmed a message (its ack, or a `message_sent` event carrying the id). */
  settle(clientMessageId: string | null | undefined): boolean {
    const index = this.items.findIndex((p) => p.clientMessageId === clientMessageId);
    if (index < 0) return false;
    this.items.splice(index, 1);
    this.attemptOf.delete(clientMessageId!);
    this.onChange();
    return true;
  }

  retry(clientMessageId: string): void {
    const item = this.items.find((p) => p.clientMessageId === clientMessageId);
    if (!item || item.state !== "failed") return;
    item.state = "queued";
    item.error = null;
    item.attempts = 0;
    this.onChange();
    this.flush();
  }

  discard(clientMessageId: string): void {
    this.settle(clientMessageId);
  }

  pendingIn(conversationId: string): Pending[] {
    return this.items.filter((p) => p.conversationId === conversationId);
  }

  flush(): void {
    if (!this.online) return;
    for (const item of this.items) {
      if (item.state === "queued") this.attempt(item);
    }
  }

  private attempt(item: Pending): void {
    const id = item.clientMessageId;
    const attempt = (this.attemptOf.get(id) ?? 0) + 1;
    this.attemptOf.set(id, attempt);
    item.state = "sending";
    item.attempts += 1;
    this.onChange();
    this.deliver(item).then(
      (message) => {
        if (this.settle(id)) this.onDelivered(message);
      },
      (error: unknown) => {
        if (this.attemptOf.get(id) !== attempt || !this.items.includes(item)) return;
        const refusal =
          error instanceof ApiError ? error : new ApiError(0, "network", "Cannot reach the server");
        if (refusal.retryable && item.attempts < MAX_ATTEMPTS) {
          item.state = "queued";
          this.onChange();
          this.later(() => this.flush(), 1000 * 2 ** (item.attempts - 1));
          return;
        }
        item.state = "failed";
        item.error = refusal.message;
        this.onChange();
      },
    );
  }
}
