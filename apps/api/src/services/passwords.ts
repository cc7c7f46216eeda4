/**
 * @module
 * A new password's problems in the changeset shape: the policy's messages on the password
 * field, Ecto's "does not match confirmation" on the confirmation field.
 */
import { passwordPolicy } from "@nexus/auth";
import type { FieldErrors } from "../http/reply.js";

/** Undefined when acceptable. `confirmation` undefined = the endpoint has no confirmation field. */
export function newPasswordErrors(
  field: "password" | "new_password",
  password: string,
  confirmation: string | undefined,
  email: string | undefined,
): FieldErrors | undefined {
  const errors: FieldErrors = {};
  const problems = passwordPolicy(password, { email });
  if (problems.length > 0) errors[field] = problems;
  if (confirmation !== undefined && confirmation !== password) {
    errors[`${field}_confirmation`] = ["does not match confirmation"];
  }
  return Object.keys(errors).length > 0 ? errors : undefined;
}
