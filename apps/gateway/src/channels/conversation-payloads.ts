/**
 * @module
 * The payloads of `conversation:{uuid}` (DESIGN.md §4.5), as zod schemas: the channel parses
 * what clients send with them, and the AsyncAPI document is generated from them, so the two
 * cannot drift apart.
 */
import { z } from "zod";
import type { HandleResult } from "./channel.js";

/** Ids are compared with the database's lowercase form. */
const Uuid = z.guid().toLowerCase();

/** A ciphertext: opaque to the server (the frame limit, 64 KB by default, bounds it). */
const Ciphertext = z.string().min(1).describe("Ciphertext for one recipient, opaque to the server");

export const Addressed = z.strictObject({
  recipient_id: Uuid.describe("A current member of the conversation (the sender included)"),
  content: Ciphertext,
});

/** Recipients appear once each. */
const AddressedList = z
  .array(Addressed)
  .min(1)
  .refine((list) => new Set(list.map((m) => m.recipient_id)).size === list.length, {
    message: "each recipient at most once",
  });

export const NewMsgIn = z
  .strictObject({ messages: AddressedList })
  .describe("One ciphertext per current member, sender included");

export const UpdateMsgIn = z
  .strictObject({ message_group: Uuid, messages: AddressedList })
  .describe("New ciphertexts for a group, one per recipient the group was sent to; sender only");

export const DeleteMsgIn = z.strictObject({ message_group: Uuid }).describe("Sender only");

/** What one member receives: the same item shape as `GET /api/messages`. */
export const MessageItemOut = z.strictObject({
  id: z.guid().describe("This recipient's message id"),
  sender: z.guid(),
  content: z.string().describe("The ciphertext addressed to this recipient"),
  message_group: z.guid(),
  seq: z.int().positive().describe("Position in the conversation; messages arrive in seq order"),
  inserted_at: z.string().describe("ISO 8601, microseconds"),
  updated_at: z.string().describe("ISO 8601, microseconds"),
});

export const SentReply = z.strictObject({ message_group: z.guid(), seq: z.int().positive() });
export const DeletedOut = z.strictObject({ message_group: z.guid() });
export const KeysUploadedOut = z.strictObject({ user_id: z.guid() });

export const RefusalReason = z.enum([
  "invalid_payload",
  "keys_missing",
  "recipients_mismatch",
  "not_found",
  "not_sender",
  "Failed to save",
]);

export const Refusal = z
  .object({
    reason: RefusalReason,
    errors: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .describe("invalid_payload: messages by field path"),
    user_ids: z.array(z.guid()).optional().describe("keys_missing: members without keys"),
    missing: z.array(z.guid()).optional().describe("recipients_mismatch: members not addressed"),
    unexpected: z.array(z.guid()).optional().describe("recipients_mismatch: addressed non-members"),
  })
  .describe("Reply status error");

export type Parsed<T> = { ok: true; value: T } | { ok: false; reply: HandleResult };

/** `invalid_payload` with zod's issues keyed by field path (`messages.0.content`). */
export function parsePayload<T>(schema: z.ZodType<T>, payload: unknown): Parsed<T> {
  const r = schema.safeParse(payload);
  if (r.success) return { ok: true, value: r.data };
  const errors: Record<string, string[]> = {};
  for (const issue of r.error.issues) {
    const field = issue.path.length > 0 ? issue.path.join(".") : "payload";
    errors[field] = [...(errors[field] ?? []), issue.message];
  }
  return refuse({ reason: "invalid_payload", errors });
}

export function refuse(response: z.input<typeof Refusal>): { ok: false; reply: HandleResult } {
  return { ok: false, reply: { reply: { status: "error", response } } };
}
