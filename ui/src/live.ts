// The real-time half of the one module that talks to the server: a socket.io-client connection
// (SOCKETIO.md). It reconnects on its own with backoff, passes the cursor as `auth.since` so the
// server replays what was missed, and rejoins the conversation rooms after every reconnect.

import { io, type Socket } from "socket.io-client";
import { ApiError } from "./api/client";
import { Cursor } from "./cursor";

export type ConnectionState = "connecting" | "online" | "offline" | "unauthorized";

export interface LiveHandlers {
  /** A server event, with `data.seq` when it comes from the log; applied before the cursor moves. */
  event(name: string, data: Record<string, unknown>): void;
  state(state: ConnectionState, message: string | null): void;
  /**
   * Authenticated again after a lost connection. `replaying` is true when the server replays from
   * the cursor; when false (no cursor yet, or the replay failed) the page refetches over HTTP.
   */
  reconnected(replaying: boolean): void;
}

const STATUS_OF: Record<string, number> = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  unavailable: 503,
};

export class Live {
  readonly cursor = new Cursor();
  private readonly socket: Socket;
  private readonly rooms = new Set<string>();
  private connectedBefore = false;
  private current: ConnectionState = "connecting";

  constructor(token: string, private readonly handlers: LiveHandlers) {
    this.socket = io({
      path: "/socket.io/",
      auth: (cb) => {
        const since = this.cursor.since;
        cb(since === null ? { token } : { token, since });
      },
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.5,
    });
    this.socket.on("authenticated", () => {
      for (const room of this.rooms) this.socket.emit("join_conversation", { conversationId: room });
      const again = this.connectedBefore;
      this.connectedBefore = true;
      this.setState("online", null);
      if (again) this.handlers.reconnected(this.cursor.since !== null);
    });
    this.socket.on("resume_complete", (data: { upTo?: unknown }) => this.cursor.resumedTo(data?.upTo));
    this.socket.on("resume_failed", () => this.handlers.reconnected(false));
    this.socket.on("connect_error", (err: Error & { data?: { message?: string } }) => {
      if (err.message === "unauthorized" || err.message === "forbidden") {
        this.setState("unauthorized", err.data?.message ?? err.message);
        return;
      }
      this.setState(this.connectedBefore ? "offline" : "connecting", null);
    });
    this.socket.on("error", (data: { code?: string; message?: string }) => {
      if (data?.code === "unauthorized") this.setState("unauthorized", data.message ?? "unauthorized");
    });
    this.socket.on("disconnect", (reason) => {
      if (this.current === "unauthorized") return;
      this.setState("offline", null);
      // The server ended the session (not a lost network): Socket.IO does not reconnect on its own.
      if (reason === "io server disconnect") this.socket.connect();
    });
    this.socket.onAny((name: string, data: unknown) => {
      if (typeof data !== "object" || data === null) return;
      const record = data as Record<string, unknown>;
      this.handlers.event(name, record);
      this.cursor.see(record.seq);
    });
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Joins a conversation room now and after every reconnect (reactions and typing go to rooms). */
  join(conversationId: string): void {
    if (this.rooms.has(conversationId)) return;
    this.rooms.add(conversationId);
    if (this.current === "online") this.socket.emit("join_conversation", { conversationId });
  }

  leave(conversationId: string): void {
    if (!this.rooms.delete(conversationId)) return;
    if (this.current === "online") this.socket.emit("leave_conversation", { conversationId });
  }

  /** Fire and forget (typing): dropped while disconnected, as a stale indicator is worse than none. */
  notify(event: string, data: Record<string, unknown>): void {
    if (this.current === "online") this.socket.emit(event, data);
  }

  /** An event with an ack, answered in the HTTP envelope; refusals become ApiErrors. */
  async request<T>(event: string, data: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    if (this.current !== "online") throw new ApiError(0, "network", "Not connected");
    let answer: { success?: boolean; message?: string; error?: string; data?: T };
    try {
      answer = await this.socket.timeout(timeoutMs).emitWithAck(event, data);
    } catch {
      throw new ApiError(0, "timeout", "The server did not answer in time");
    }
    if (answer?.success !== true) {
      const code = answer?.error ?? "internal";
      throw new ApiError(STATUS_OF[code] ?? 500, code, answer?.message ?? "The server refused it");
    }
    return answer.data as T;
  }

  close(): void {
    this.socket.close();
  }

  private setState(state: ConnectionState, message: string | null): void {
    if (state === this.current && message === null) return;
    this.current = state;
    this.handlers.state(state, message);
  }
}
