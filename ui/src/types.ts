// The shapes API.md and WEBSOCKET.md define, as the UI reads them.

export type Role = "customer" | "admin" | "service";
export type Status = "active" | "archived" | "closed";

export interface Participant {
  userId: string;
  role: Role;
  name: string;
  joinedAt: string;
  lastSeen: string | null;
  online?: boolean;
}

export interface LastMessage {
  id: string;
  content: string;
  sender: string;
  messageType: string;
  timestamp: string;
}

export interface Conversation {
  id: string;
  relatedBooking: string;
  title: string;
  participants: Participant[];
  lastMessage: LastMessage | null;
  unreadCount: number;
  status: Status;
  createdAt: string;
  updatedAt: string;
}

export interface Reaction {
  user: string;
  emoji: string;
  createdAt: string;
}

export interface Message {
  id: string;
  conversationId: string;
  seq: number;
  sender: string;
  senderRole: Role;
  content: string;
  messageType: string;
  replyTo: string | null;
  readBy: { user: string; readAt: string }[];
  reactions: Reaction[];
  isDeleted: boolean;
  deletedAt: string | null;
  isEdited: boolean;
  editedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Broadcast {
  id: string;
  content: string;
  from: string;
  audience: string;
  at: string;
}

/** One event of route 14, as stored in the log. */
export interface LogEvent {
  seq: number;
  type: string;
  at: string;
  actor: string;
}
