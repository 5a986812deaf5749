// One signed-in page's link to the server: the HTTP client, the socket, the store both feed, and the
// outbox. Components read the store and call these methods; nothing else talks to the server.

import { Api, ApiError } from "./api/client";
import { uploadAttachment } from "./api/upload";
import { messageTypeFor, type UploadCall } from "./attachments";
import { Live, type ConnectionState } from "./live";
import { Outbox, type Pending } from "./outbox";
import { pageUntil } from "./search";
import { Store } from "./store";
import type { Claims } from "./token";
import type { Attachment, CannedReply, Message } from "./types";

export class Session {
  readonly store = new Store();
  readonly api: Api;
  readonly live: Live;
  readonly outbox: Outbox;
  connection: ConnectionState = "connecting";
  /** Why the server refused the token, in its words; set with connection "unauthorized". */
  refusal: string | null = null;
  /** The conversation on screen: new messages there are marked read while the page is visible. */
  private focused: string | null = null;
  private readTimer: ReturnType<typeof setTimeout> | null = null;
  private typingSince = 0;
  private readonly urlsRefreshed = new Map<string, number>();
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly connected: Promise<void>;
  private markConnected: () => void = () => {};
  /** Called when the socket is back without a replay: the page refetches what it shows. */
  refetch: () => void = () => {};
  /** The canned replies (admins), loaded when first wanted; null until then. */
  canned: CannedReply[] | null = null;
  private cannedLoading: Promise<void> | null = null;

  constructor(
    readonly token: string,
    readonly me: Claims,
  ) {
    this.api = new Api(token);
    this.store.hideNotes = me.role !== "admin";
    this.store.selfId = me.sub;
    this.connected = new Promise((resolve) => {
      this.markConnected = resolve;
    });
    this.outbox = new Outbox(
      (pending) => this.deliver(pending),
      () => this.store.notify(),
      (message) => {
        this.store.upsertMessage(message);
        this.store.notify();
      },
    );
    this.live = new Live(token, {
      event: (name, data) => this.onEvent(name, data),
      state: (state, message) => {
        this.connection = state;
        if (state === "unauthorized") this.refusal = message;
        this.outbox.setOnline(state === "online");
        if (state === "online" || state === "unauthorized") this.markConnected();
        this.store.notify();
      },
      reconnected: (replaying) => {
        if (!replaying) this.refetch();
      },
    });
    setInterval(() => {
      if (this.store.expireTyping(Date.now())) this.store.notify();
    }, 1000);
    document.addEventListener("visibilitychange", () => {
      const open = this.focused ? this.store.conversations.get(this.focused) : undefined;
      if (open && open.unreadCount > 0) this.markReadSoon(open.id);
    });
  }

  /**
   * Resolves once the socket is in its rooms (or after `waitMs`, so a page still loads over HTTP when
   * the socket cannot connect). Fetching after this point means no event falls between page and feed.
   */
  ready(waitMs = 5000): Promise<void> {
    return Promise.race([this.connected, new Promise<void>((resolve) => setTimeout(resolve, waitMs))]);
  }

  /**
   * What to show for a failed request: the API's message, or `fallback` for anything else; null when
   * it was a 401, which signs the page out instead.
   */
  problem(error: unknown, fallback: string): string | null {
    if (this.signedOut(error)) return null;
    return error instanceof ApiError ? error.message : fallback;
  }

  /** Marks an HTTP 401 as a sign-in problem for the page to show. */
  signedOut(error: unknown): boolean {
    if (error instanceof ApiError && error.status === 401) {
      this.connection = "unauthorized";
      this.refusal = error.message;
      this.store.notify();
      return true;
    }
    return false;
  }

  /** Shows a conversation: joins its room and loads its newest page (which marks it read). */
  async open(conversationId: string): Promise<void> {
    if (this.focused && this.focused !== conversationId) this.live.leave(this.focused);
    this.focused = conversationId;
    this.live.join(conversationId);
    await this.ready();
    await this.loadNewest(conversationId);
  }

  close(conversationId: string): void {
    if (this.focused === conversationId) this.focused = null;
    this.live.leave(conversationId);
  }

  async loadNewest(conversationId: string): Promise<void> {
    const page = await this.api.messages(conversationId, null);
    this.store.mergePage(conversationId, page.messages, page.hasMore, false);
    this.store.notify();
  }

  /** The page just older than the oldest message held; false when there is none. */
  async loadOlder(conversationId: string): Promise<boolean> {
    const thread = this.store.thread(conversationId);
    if (!thread.hasMore || thread.order.length === 0) return false;
    const page = await this.api.messages(conversationId, thread.order[0]);
    this.store.mergePage(conversationId, page.messages, page.hasMore, true);
    this.store.notify();
    return page.messages.length > 0;
  }

  /**
   * Makes sure a message is held, for a search result to open the conversation at it: the newest
   * page first, then older pages until it is there. False when the conversation does not have it
   * (any more).
   */
  reveal(conversationId: string, messageId: string): Promise<boolean> {
    const thread = () => this.store.thread(conversationId);
    return pageUntil(
      () => thread().byId.has(messageId),
      () => thread().loaded,
      () => this.loadNewest(conversationId),
      () => this.loadOlder(conversationId),
    );
  }

  /** Sends text and the ids of attachments already uploaded; content may be blank with attachments. */
  send(
    conversationId: string,
    content: string,
    replyTo: string | null,
    attachments: Attachment[] = [],
    internal = false,
  ): Pending {
    this.stopTyping(conversationId);
    return this.outbox.add(conversationId, content, replyTo, attachments, internal);
  }

  /** Loads the canned replies once (again with `force`, after a change); errors leave them as they were. */
  loadCanned(force = false): Promise<void> {
    if (this.cannedLoading && !force) return this.cannedLoading;
    this.cannedLoading = this.api.cannedReplies().then(
      (replies) => {
        this.canned = replies;
        this.store.notify();
      },
      (e: unknown) => {
        this.cannedLoading = null;
        this.signedOut(e);
        throw e;
      },
    );
    return this.cannedLoading;
  }

  async saveCanned(shortcut: string, title: string, content: string): Promise<void> {
    await this.api.putCannedReply(shortcut, title, content);
    await this.loadCanned(true);
  }

  async deleteCanned(shortcut: string): Promise<void> {
    await this.api.deleteCannedReply(shortcut);
    await this.loadCanned(true);
  }

  /** Uploads one file for a message to come (route 16), reporting progress from 0 to 1. */
  upload(conversationId: string, file: File, onProgress: (fraction: number) => void): UploadCall {
    const call = uploadAttachment(this.token, conversationId, file, onProgress);
    call.done.catch((e: unknown) => this.signedOut(e));
    return call;
  }

  /**
   * A signed attachment URL failed to load (it expires, 1 h by default): the newest page carries
   * freshly signed ones. At most once a minute per conversation.
   */
  refreshUrls(conversationId: string): void {
    const now = Date.now();
    if (now - (this.urlsRefreshed.get(conversationId) ?? 0) < 60_000) return;
    this.urlsRefreshed.set(conversationId, now);
    this.loadNewest(conversationId).catch(() => undefined);
  }

  async edit(message: Message, content: string): Promise<void> {
    this.store.upsertMessage(await this.api.edit(message.conversationId, message.id, content));
    this.store.notify();
  }

  async remove(message: Message): Promise<void> {
    this.store.upsertMessage(await this.api.remove(message.conversationId, message.id));
    this.store.notify();
  }

  async toggleReaction(message: Message, emoji: string): Promise<void> {
    const mine = message.reactions.some((r) => r.user === this.me.sub && r.emoji === emoji);
    const updated = mine
      ? await this.api.unreact(message.conversationId, message.id, emoji)
      : await this.api.react(message.conversationId, message.id, emoji);
    this.store.upsertMessage(updated);
    this.store.notify();
  }

  /** Called on every keystroke: one `typing_start` every 3 s at most, a stop after 3 s of quiet. */
  typing(conversationId: string): void {
    const now = Date.now();
    if (now - this.typingSince > 3000) {
      this.typingSince = now;
      this.live.notify("typing_start", { conversationId });
    }
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(conversationId), 3000);
  }

  stopTyping(conversationId: string): void {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    if (this.typingSince === 0) return;
    this.typingSince = 0;
    this.live.notify("typing_stop", { conversationId });
  }

  private async deliver(pending: Pending): Promise<Message> {
    // A note goes over HTTP (docs/inbox.md names `POST …/messages` with `internal: true`), with the
    // same clientMessageId on every attempt, so a retry after a lost answer stores nothing twice.
    if (pending.internal) {
      return this.api.send(pending.conversationId, {
        content: pending.content,
        replyTo: pending.replyTo,
        clientMessageId: pending.clientMessageId,
        internal: true,
      });
    }
    const data = await this.live.request<{ message: Message }>("send_message", {
      conversationId: pending.conversationId,
      content: pending.content,
      replyTo: pending.replyTo,
      clientMessageId: pending.clientMessageId,
      ...(pending.attachments.length > 0
        ? {
            messageType: messageTypeFor(pending.attachments.map((a) => a.mimetype)),
            attachments: pending.attachments.map((a) => ({ id: a.id })),
          }
        : {}),
    });
    return data.message;
  }

  private onEvent(name: string, data: Record<string, unknown>): void {
    if (!this.store.apply(name, data)) return;
    if (name === "message_sent") this.outbox.settle(data.clientMessageId as string | null);
    if (name === "conversation_updated") {
      const conversation = data.conversation as { id: string; unreadCount: number };
      if (conversation.id === this.focused && conversation.unreadCount > 0) this.markReadSoon(conversation.id);
    }
    this.store.notify();
  }

  private markReadSoon(conversationId: string): void {
    if (document.visibilityState !== "visible" || this.readTimer) return;
    this.readTimer = setTimeout(() => {
      this.readTimer = null;
      if (this.focused === conversationId) this.live.notify("mark_read", { conversationId });
    }, 300);
  }
}
