// The one store of what the server said: conversations, and each conversation's messages ordered by
// seq. Fetched pages and live events merge into it by id, so a message seen both ways (or replayed
// after a reconnect) is shown once, in its newest state.

import type { Broadcast, Conversation, Mention, Message } from "./types";

export interface Thread {
  byId: Map<string, Message>;
  /** Message ids in seq order. */
  order: string[];
  /** Older messages exist on the server that this thread has not loaded. */
  hasMore: boolean;
  loaded: boolean;
}

/** Which copy of a message to keep: a deletion is final, else the one changed last wins. */
export function newerMessage(current: Message | undefined, incoming: Message): Message {
  if (!current) return incoming;
  if (current.isDeleted && !incoming.isDeleted) return current;
  if (incoming.isDeleted && !current.isDeleted) return incoming;
  return Date.parse(incoming.updatedAt) >= Date.parse(current.updatedAt) ? incoming : current;
}

function emptyThread(): Thread {
  return { byId: new Map(), order: [], hasMore: false, loaded: false };
}

function insertOrdered(thread: Thread, message: Message): void {
  const order = thread.order;
  let i = order.length;
  while (i > 0 && (thread.byId.get(order[i - 1])?.seq ?? 0) > message.seq) i--;
  order.splice(i, 0, message.id);
}

/** Something to tell this admin about (a toast): a note that mentions them, or a conversation assigned to them. */
export type Notice =
  | { kind: "mentioned"; id: string; conversationId: string; message: Message; by: string }
  | { kind: "assigned"; id: string; conversationId: string; by: string };

export class Store {
  readonly conversations = new Map<string, Conversation>();
  readonly threads = new Map<string, Thread>();
  /** conversationId → userId → when the indicator lapses (ms). */
  readonly typing = new Map<string, Map<string, number>>();
  readonly broadcasts: Broadcast[] = [];
  /** `mentioned` and `conversation_assigned` for this admin, newest last, until dismissed. */
  readonly notices: Notice[] = [];
  /**
   * A customer's store keeps no admins' note (docs/inbox.md: the server never sends one to a
   * customer; this is the page's own guard).
   */
  hideNotes = false;
  /** This page's user: what they did themselves is no notice. */
  selfId = "";
  private readonly listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    for (const listener of this.listeners) listener();
  }

  thread(conversationId: string): Thread {
    let thread = this.threads.get(conversationId);
    if (!thread) {
      thread = emptyThread();
      this.threads.set(conversationId, thread);
    }
    return thread;
  }

  messages(conversationId: string): Message[] {
    const thread = this.threads.get(conversationId);
    if (!thread) return [];
    return thread.order.map((id) => thread.byId.get(id)!);
  }

  upsertConversation(conversation: Conversation): void {
    const current = this.conversations.get(conversation.id);
    if (current && Date.parse(current.updatedAt) > Date.parse(conversation.updatedAt)) return;
    this.conversations.set(conversation.id, conversation);
  }

  upsertMessage(message: Message): void {
    if (this.hideNotes && message.internal === true) return;
    const thread = this.thread(message.conversationId);
    const current = thread.byId.get(message.id);
    thread.byId.set(message.id, newerMessage(current, message));
    if (!current) insertOrdered(thread, message);
  }

  /**
   * Merges a fetched page. `older` pages set `hasMore`; the newest page does so only the first time.
   * A newest page that does not reach back to what the thread holds (more was missed than one page)
   * replaces the thread, so the log never shows a silent gap.
   */
  mergePage(conversationId: string, messages: Message[], hasMore: boolean, older: boolean): void {
    const thread = this.thread(conversationId);
    if (!older && thread.loaded && messages.length > 0 && hasMore) {
      const newestHeld = thread.order.length ? thread.byId.get(thread.order[thread.order.length - 1])!.seq : 0;
      const overlaps = messages.some((m) => thread.byId.has(m.id)) || messages[0].seq <= newestHeld;
      if (!overlaps) this.threads.set(conversationId, emptyThread());
    }
    const target = this.thread(conversationId);
    for (const message of messages) this.upsertMessage(message);
    if (older || !target.loaded) target.hasMore = hasMore;
    target.loaded = true;
  }

  applyReaction(
    conversationId: string,
    messageId: string,
    user: string,
    emoji: string,
    added: boolean,
    at: string,
  ): void {
    const message = this.threads.get(conversationId)?.byId.get(messageId);
    if (!message) return;
    const exists = message.reactions.some((r) => r.user === user && r.emoji === emoji);
    if (added === exists) return;
    const reactions = added
      ? [...message.reactions, { user, emoji, createdAt: at }]
      : message.reactions.filter((r) => !(r.user === user && r.emoji === emoji));
    this.threads.get(conversationId)!.byId.set(messageId, { ...message, reactions });
  }

  /** `messages_read`: `userId` has now read everything up to `upToSeq` sent by others. */
  applyRead(conversationId: string, userId: string, readAt: string, upToSeq: number): void {
    const thread = this.threads.get(conversationId);
    if (!thread) return;
    for (const id of thread.order) {
      const message = thread.byId.get(id)!;
      if (message.seq > upToSeq) break;
      if (message.sender === userId || message.readBy.some((r) => r.user === userId)) continue;
      thread.byId.set(id, { ...message, readBy: [...message.readBy, { user: userId, readAt }] });
    }
  }

  setOnline(userId: string, online: boolean): void {
    for (const [id, conversation] of this.conversations) {
      if (!conversation.participants.some((p) => p.userId === userId)) continue;
      this.conversations.set(id, {
        ...conversation,
        participants: conversation.participants.map((p) => (p.userId === userId ? { ...p, online } : p)),
      });
    }
  }

  setTyping(conversationId: string, userId: string, isTyping: boolean, now: number): void {
    let users = this.typing.get(conversationId);
    if (!users) {
      users = new Map();
      this.typing.set(conversationId, users);
    }
    if (isTyping) users.set(userId, now + 6000);
    else users.delete(userId);
  }

  /** Drops indicators whose stop never arrived; true when one was dropped. */
  expireTyping(now: number): boolean {
    let changed = false;
    for (const users of this.typing.values()) {
      for (const [user, until] of users) {
        if (until <= now) {
          users.delete(user);
          changed = true;
        }
      }
    }
    return changed;
  }

  typists(conversationId: string): string[] {
    return [...(this.typing.get(conversationId)?.keys() ?? [])];
  }

  addNotice(notice: Notice): void {
    if (notice.by === this.selfId) return;
    if (this.notices.some((n) => n.id === notice.id)) return;
    this.notices.push(notice);
    if (this.notices.length > 5) this.notices.shift();
  }

  dismissNotice(id: string): void {
    const i = this.notices.findIndex((n) => n.id === id);
    if (i >= 0) this.notices.splice(i, 1);
  }

  addBroadcast(broadcast: Broadcast): void {
    if (this.broadcasts.some((b) => b.id === broadcast.id)) return;
    this.broadcasts.push(broadcast);
  }

  /** Applies one server event (WEBSOCKET.md's table); false for an event the store does not keep. */
  apply(event: string, data: Record<string, unknown>, now = Date.now()): boolean {
    const conversationId = data.conversationId as string;
    switch (event) {
      case "new_message":
      case "message_sent":
      case "message_edited":
      case "message_deleted":
        this.upsertMessage(data.message as Message);
        return true;
      case "reaction_added":
      case "reaction_removed":
        this.applyReaction(
          conversationId,
          data.messageId as string,
          data.user as string,
          data.emoji as string,
          event === "reaction_added",
          new Date(now).toISOString(),
        );
        return true;
      case "messages_read":
        this.applyRead(conversationId, data.userId as string, data.readAt as string, data.upToSeq as number);
        return true;
      case "conversation_updated":
        this.upsertConversation(data.conversation as Conversation);
        return true;
      case "user_typing":
        this.setTyping(conversationId, data.userId as string, data.isTyping === true, now);
        return true;
      case "user_online":
      case "user_offline":
        this.setOnline(data.userId as string, event === "user_online");
        return true;
      case "admin_broadcast":
        this.addBroadcast(data as unknown as Broadcast);
        return true;
      case "mentioned": {
        const mention = data as unknown as Mention;
        if (!mention.message) return false;
        this.addNotice({ kind: "mentioned", id: `mentioned:${mention.message.id}`, ...mention });
        return true;
      }
      case "conversation_assigned":
        if (typeof data.by !== "string") return false;
        this.addNotice({
          kind: "assigned",
          id: `assigned:${conversationId}:${String(data.seq ?? now)}`,
          conversationId,
          by: data.by,
        });
        return true;
      default:
        return false;
    }
  }
}
