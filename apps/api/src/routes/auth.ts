/**
 * @module
 * `/auth/*`: registration, login, refresh, email confirmation and password reset (seed 000).
 * Every route here is rate limited per IP; login also per account, the mail-sending ones per
 * address. Unknown emails cost the same argon2 work as known ones and get the same answers
 * where the seed allows (login: 401 either way; password/request: 204 either way).
 */
import {
  dummyVerify,
  hashOpaqueToken,
  hashPassword,
  isOpaqueTokenShape,
  needsRehash,
  verifyPassword,
} from "@nexus/auth";
import {
  confirmEmail,
  consumeEmailToken,
  createUser,
  findUserByEmail,
  findUserById,
  peekEmailToken,
  setPasswordHash,
} from "@nexus/db";
import type { ApiContext } from "../context.js";
import { conflict, created, noContent, ok, unauthorized, unprocessable } from "../http/reply.js";
import { publicRoute, type Route } from "../http/route.js";
import {
  AuthResponse,
  LoginRequest,
  PasswordConfirmResponse,
  PasswordResetRequest,
  PasswordResetRequestRequest,
  RegisterRequest,
  TokenRequest,
} from "../schemas.js";
import { newPasswordErrors } from "../services/passwords.js";
import { transactionOrAbort } from "../services/tx.js";
import { authView, userSummaryView } from "../services/views.js";

const TAG = "auth";
export const INVALID_TOKEN = { token: ["is invalid or has expired"] };
const tokenDocs = { 422: { description: "Validation failed, or the token is unknown, used or expired" } };

export function authRoutes(ctx: ApiContext): Route[] {
  const { db, sessions, emails } = ctx;

  const register = publicRoute({
    method: "post",
    path: "/auth/register",
    body: RegisterRequest,
    ipLimit: "auth_ip",
    doc: {
      tag: TAG,
      summary: "Create an account",
      description: "Sends an email confirmation link. The display name defaults to the email.",
      responses: {
        201: { description: "Created and signed in", schema: AuthResponse },
        409: { description: "The email is already taken" },
      },
    },
    async handler({ body, ip, limit }) {
      const limited = await limit("register_ip", ip);
      if (limited) return limited;
      const problems = newPasswordErrors("password", body.password, undefined, body.email);
      if (problems) return unprocessable(problems);
      const passwordHash = await hashPassword(body.password);
      const result = await db.transaction(async (tx) => {
        const made = await createUser(tx, {
          email: body.email,
          displayName: body.display_name ?? body.email,
          passwordHash,
        });
        if (made.ok) await emails.queue(tx, "email_confirm", made.user);
        return made;
      });
      if (!result.ok) return conflict({ email: ["has already been taken"] });
      ctx.outbox.kick();
      return created(await authView(db, result.user.id, await sessions.issue(result.user.id)));
    },
  });

  const login = publicRoute({
    method: "post",
    path: "/auth/login",
    body: LoginRequest,
    ipLimit: "auth_ip",
    doc: {
      tag: TAG,
      summary: "Sign in with email and password",
      responses: {
        200: { description: "Signed in", schema: AuthResponse },
        401: { description: "Wrong email or password (the same answer for both)" },
      },
    },
    async handler({ body, limit }) {
      const limited = await limit("login_email", body.email.toLowerCase());
      if (limited) return limited;
      const user = await findUserByEmail(db, body.email);
      const valid =
        user === undefined
          ? await dummyVerify(body.password)
          : await verifyPassword(user.passwordHash, body.password);
      if (user === undefined || !valid) return unauthorized("Invalid email or password");
      if (needsRehash(user.passwordHash))
        await setPasswordHash(db, user.id, await hashPassword(body.password));
      return ok(await authView(db, user.id, await sessions.issue(user.id)));
    },
  });

  const refresh = publicRoute({
    method: "post",
    path: "/auth/refresh",
    body: TokenRequest,
    ipLimit: "auth_ip",
    doc: {
      tag: TAG,
      summary: "Exchange a refresh token for new tokens",
      description:
        "The refresh token is single use: the answer carries its successor. Presenting a spent token again revokes every token descended from the same login.",
      responses: {
        200: { description: "New tokens", schema: AuthResponse },
        401: { description: "Unknown, expired, spent or revoked refresh token" },
      },
    },
    async handler({ body, log }) {
      const result = await sessions.refresh(body.token);
      if (!result.ok) {
        if (result.error === "reused") log.warn("refresh token reused: its family is revoked");
        return unauthorized("Invalid refresh token");
      }
      return ok(await authView(db, result.userId, result));
    },
  });

  const confirm = publicRoute({
    method: "post",
    path: "/auth/confirm",
    body: TokenRequest,
    ipLimit: "auth_ip",
    doc: {
      tag: TAG,
      summary: "Confirm an email address with the emailed token",
      responses: { 204: { description: "Confirmed" }, ...tokenDocs },
    },
    async handler({ body }) {
      if (!isOpaqueTokenShape(body.token)) return unprocessable(INVALID_TOKEN);
      const hash = hashOpaqueToken(body.token);
      // One transaction: a token for an address the account no longer has is not burnt.
      const confirmed = await transactionOrAbort(db, async (tx, abort) => {
        const owner = await consumeEmailToken(tx, { hash, kind: "email_confirm" });
        if (owner === undefined || !(await confirmEmail(tx, owner.userId, owner.sentTo))) abort("aborted");
      });
      return confirmed.ok ? noContent() : unprocessable(INVALID_TOKEN);
    },
  });

  const passwordRequest = publicRoute({
    method: "post",
    path: "/auth/password/request",
    body: PasswordResetRequestRequest,
    ipLimit: "auth_ip",
    doc: {
      tag: TAG,
      summary: "Email a password reset link",
      description: "Answers 204 whether or not an account has this email, and as fast either way.",
      responses: { 204: { description: "Accepted" } },
    },
    async handler({ body, limit }) {
      const limited = await limit("email_send", body.email.toLowerCase());
      if (limited) return limited;
      // The lookup and the mail happen after the answer, so its timing says nothing about the account.
      ctx.background(async () => {
        const user = await findUserByEmail(db, body.email);
        if (user === undefined) return;
        await db.transaction((tx) => emails.queue(tx, "password_reset", user));
        ctx.outbox.kick();
      });
      return noContent();
    },
  });

  const passwordConfirm = publicRoute({
    method: "post",
    path: "/auth/password/confirm",
    body: TokenRequest,
    ipLimit: "auth_ip",
    doc: {
      tag: TAG,
      summary: "Check a password reset token",
      description: "Does not use the token up; /auth/password/reset does.",
      responses: { 200: { description: "The token's user", schema: PasswordConfirmResponse }, ...tokenDocs },
    },
    async handler({ body }) {
      const user = await resetTokenUser(body.token);
      if (user === undefined) return unprocessable(INVALID_TOKEN);
      return ok({ success: true, user: userSummaryView(user) });
    },
  });

  const passwordReset = publicRoute({
    method: "post",
    path: "/auth/password/reset",
    body: PasswordResetRequest,
    ipLimit: "auth_ip",
    doc: {
      tag: TAG,
      summary: "Set a new password with a reset token",
      description:
        "Signs the user out everywhere: every token (refresh, confirmation, reset) is revoked, live sockets are closed, and earlier auth tokens are refused. The seed's `password` field is ignored.",
      responses: { 204: { description: "Password changed" }, ...tokenDocs },
    },
    async handler({ body }) {
      const user = await resetTokenUser(body.token);
      if (user === undefined) return unprocessable(INVALID_TOKEN);
      const problems = newPasswordErrors(
        "new_password",
        body.new_password,
        body.new_password_confirmation,
        user.email,
      );
      if (problems) return unprocessable(problems);
      const passwordHash = await hashPassword(body.new_password);
      const atMs = await transactionOrAbort(db, async (tx, abort) => {
        const owner = await consumeEmailToken(tx, {
          hash: hashOpaqueToken(body.token),
          kind: "password_reset",
        });
        if (owner === undefined || owner.userId !== user.id) return abort("aborted");
        await setPasswordHash(tx, user.id, passwordHash);
        // The reset link reached this mailbox: that proves the address as well.
        await confirmEmail(tx, user.id, owner.sentTo);
        return sessions.revokeAll(tx, user.id);
      });
      if (!atMs.ok) return unprocessable(INVALID_TOKEN);
      sessions.announceSignOut(user.id, atMs.value, "password_reset");
      return noContent();
    },
  });

  /** The user a live reset token belongs to, if it was mailed to their current address. */
  async function resetTokenUser(token: string) {
    if (!isOpaqueTokenShape(token)) return undefined;
    const owner = await peekEmailToken(db, { hash: hashOpaqueToken(token), kind: "password_reset" });
    if (owner === undefined) return undefined;
    const user = await findUserById(db, owner.userId);
    return user !== undefined && user.email.toLowerCase() === owner.sentTo.toLowerCase() ? user : undefined;
  }

  return [register, login, refresh, confirm, passwordRequest, passwordConfirm, passwordReset];
}
