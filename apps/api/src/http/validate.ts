/**
 * @module
 * zod results in the Ecto changeset shape seed-000 clients display: `{"field": ["message"]}`
 * with Ecto's own wording ("can't be blank", "is invalid", "should be at most 200
 * character(s)"…). A nested problem (`recents[3]`, `user_ids[0]`) is reported on its top-level
 * field, as a changeset reports an invalid array.
 */
import type { z } from "zod";
import type { FieldErrors } from "./reply.js";

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldErrors };

export function validate<T>(schema: z.ZodType<T>, input: unknown): Validated<T> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: issuesToErrors(result.error.issues) };
}

export function issuesToErrors(issues: readonly z.core.$ZodIssue[]): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") continue; // Ecto's cast ignores unknown fields; so do we.
    const field = issue.path.length > 0 ? String(issue.path[0]) : "body";
    const message = messageFor(issue);
    const list = errors[field] ?? [];
    if (!list.includes(message)) list.push(message);
    errors[field] = list;
  }
  return errors;
}

function messageFor(issue: z.core.$ZodIssue): string {
  const absent = issue.input === undefined || issue.input === null;
  switch (issue.code) {
    case "invalid_type":
    case "invalid_value":
      return absent ? "can't be blank" : "is invalid";
    case "too_small": {
      const n = Number(issue.minimum);
      if (issue.origin === "string")
        return n <= 1 ? "can't be blank" : `should be at least ${n} character(s)`;
      if (issue.origin === "array" || issue.origin === "set") return `should have at least ${n} item(s)`;
      return issue.inclusive === false
        ? `must be greater than ${n}`
        : `must be greater than or equal to ${n}`;
    }
    case "too_big": {
      const n = Number(issue.maximum);
      if (issue.origin === "string") return `should be at most ${n} character(s)`;
      if (issue.origin === "array" || issue.origin === "set") return `should have at most ${n} item(s)`;
      return issue.inclusive === false ? `must be less than ${n}` : `must be less than or equal to ${n}`;
    }
    case "invalid_format":
      return issue.format === "email" ? "has invalid format" : "is invalid";
    case "custom":
      return issue.message;
    default:
      return "is invalid";
  }
}
