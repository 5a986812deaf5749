import type { Message } from "../src/types";

/** A message as the server renders it, with the fields a test sets. */
export function message(id: string, seq: number, fields: Partial<Message> = {}): Message {
  return {
    id,
    conversationId: "c1",
    seq,
    sender: "cus_1",
    senderRole: "customer",
    content: `text ${id}`,
    messageType: "text",
    attachments: [],
    replyTo: null,
    readBy: [],
    reactions: [],
    isDeleted: false,
    deletedAt: null,
    isEdited: false,
    editedAt: null,
    createdAt: `2026-12-01T10:00:${String(seq % 60).padStart(2, "0")}.000Z`,
    updatedAt: `2026-12-01T10:00:${String(seq % 60).padStart(2, "0")}.000Z`,
    clientMessageId: null,
    internal: false,
    ...fields,
  };
}
