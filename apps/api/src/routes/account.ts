/**
 * @module
 * `/api/*` account endpoints for a signed-in user (seed 000): sign out everywhere, request
 * confirmation and email-change mail, change password, change email.
 */
import { hashOpaqueToken, hashPassword, isOpaqueTokenShape, verifyPassword } from "@nexus/auth";
import { changeEmail, consumeEmailToken, findUserById, isUniqueViolation, setPasswordHash } from "@nexus/db";
import type { ApiContext } from "../context.js";
import { conflict, noContent, unauthorized, unprocessable } from "../http/reply.js";
import { authedRoute, type Route } from "../http/route.js";
import { EmailChangeRequest, PasswordChangeRequest } from "../schemas.js";
import { newPasswordErrors } from "../services/passwords.js";
import { transactionOrAbort } from "../services/tx.js";
import { INVALID_TOKEN } from "./auth.js";

const TAG = "account";
const WRONG_PASSWORD = { password: ["is not valid"] };

export function accountRoutes(ctx: ApiContext): Route[] {
  const { db, sessions, emails } = ctx;

  const signoutAll = authedRoute({
    method: "post",
    path: "/api/signout_all",
    doc: {
      tag: TAG,
      summary: "Sign out everywhere",
      description:
        "Revokes every refresh token, closes the user's live sockets on every gateway, and refuses auth tokens issued before now (this one included).",
      responses: { 204: { description: "Signed out" } },
    },
    async handler({ userId }) {
      const atMs = await db.transaction((tx) => sessions.revokeAll(tx, userId, ["refresh"]));
      sessions.announceSignOut(userId, atMs, "signout_all");
      return noContent();
    },
  });

  const mailRoute = (
    path: string,
    kind: "email_confirm" | "email_change",
    summary: string,
    description: string,
  ) =>
    authedRoute({
      method: "post",
      path,
      doc: { tag: TAG, summary, description, responses: { 204: { description: "Sent (or nothing to do)" } } },
      async handler({ userId, limit }) {
        const limited = await limit("email_send", userId);
        if (limited) return limited;
        const user = await findUserById(db, userId);
        if (user === undefined) return unauthorized();
        if (kind === "email_confirm" && user.emailConfirmedAt !== null) return noContent();
        await db.transaction((tx) => emails.queue(tx, kind, user));
        ctx.outbox.kick();
        return noContent();
      },
    });

  const emailConfirmToken = mailRoute(
    "/api/token/email_confirm",
    "email_confirm",
    "Email a new confirmation link",
    "Earlier confirmation links stop working. Nothing is sent if the address is already confirmed.",
  );
  const emailChangeToken = mailRoute(
    "/api/token/email_change",
    "email_change",
    "Email an email-change token to the current address",
    "Use the token with PATCH /api/email.",
  );

  const changePassword = authedRoute({
    method: "patch",
    path: "/api/password",
    body: PasswordChangeRequest,
    doc: {
      tag: TAG,
      summary: "Change password",
      description:
        "Then every token of the user is revoked and they are signed out everywhere, this session included: sign in again with the new password.",
      responses: { 204: { description: "Changed" } },
    },
    async handler({ userId, body }) {
      const user = await findUserById(db, userId);
      if (user === undefined) return unauthorized();
      const problems = newPasswordErrors(
        "new_password",
        body.new_password,
        body.new_password_confirmation,
        user.email,
      );
      if (!(await verifyPassword(user.passwordHash, body.password))) {
        return unprocessable({ ...WRONG_PASSWORD, ...problems });
      }
      if (problems) return unprocessable(problems);
      const passwordHash = await hashPassword(body.new_password);
      const atMs = await db.transaction(async (tx) => {
        await setPasswordHash(tx, userId, passwordHash);
        return sessions.revokeAll(tx, userId);
      });
      sessions.announceSignOut(userId, atMs, "password_changed");
      return noContent();
    },
  });

  const changeEmailRoute = authedRoute({
    method: "patch",
    path: "/api/email",
    body: EmailChangeRequest,
    doc: {
      tag: TAG,
      summary: "Change email with an email-change token",
      description:
        "Needs the token mailed by POST /api/token/email_change and the current password. The new address starts unconfirmed and gets a confirmation link.",
      responses: {
        204: { description: "Changed" },
        409: { description: "The new email is already taken" },
        422: { description: "Validation failed, wrong password, or the token is invalid" },
      },
    },
    async handler({ userId, body }) {
      const user = await findUserById(db, userId);
      if (user === undefined) return unauthorized();
      if (!(await verifyPassword(user.passwordHash, body.password))) return unprocessable(WRONG_PASSWORD);
      if (body.email.toLowerCase() === user.email.toLowerCase())
        return unprocessable({ email: ["did not change"] });
      if (!isOpaqueTokenShape(body.token)) return unprocessable(INVALID_TOKEN);
      const hash = hashOpaqueToken(body.token);
      let outcome: "ok" | "token" | "taken";
      try {
        const result = await transactionOrAbort<void, "token" | "taken">(db, async (tx, abort) => {
          const owner = await consumeEmailToken(tx, { hash, kind: "email_change" });
          // The token must be this user's and mailed to the address the account still has.
          if (
            owner === undefined ||
            owner.userId !== userId ||
            owner.sentTo.toLowerCase() !== user.email.toLowerCase()
          ) {
            abort("token");
          }
          // Aborting also un-uses the token: a taken address does not cost the user their link.
          if (!(await changeEmail(tx, userId, body.email)).ok) abort("taken");
          await emails.queue(tx, "email_confirm", { id: userId, email: body.email });
        });
        outcome = result.ok ? "ok" : result.reason;
      } catch (err) {
        // Two accounts claiming the same new address at once: the unique index decides.
        if (!isUniqueViolation(err)) throw err;
        outcome = "taken";
      }
      if (outcome === "token") return unprocessable(INVALID_TOKEN);
      if (outcome === "taken") return conflict({ email: ["has already been taken"] });
      ctx.outbox.kick();
      return noContent();
    },
  });

  return [signoutAll, emailConfirmToken, emailChangeToken, changePassword, changeEmailRoute];
}
