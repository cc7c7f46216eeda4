/**
 * @module
 * The three emails the api sends, each carrying a fresh single-use token. Called inside the
 * request's transaction: the token row and the outbox row commit (or roll back) together, and
 * the worker is kicked only after the commit.
 */
import { randomUUID } from "node:crypto";
import { newOpaqueToken } from "@nexus/auth";
import { type Db, type EmailTokenKind, enqueueOutbox, insertEmailToken } from "@nexus/db";
import type { Email } from "./mailer.js";
import { outboxAssociatedData } from "./outbox-worker.js";
import type { Vault } from "./vault.js";

/** How long each emailed token stays valid. */
export const EMAIL_TOKEN_TTL_MS: Readonly<Record<EmailTokenKind, number>> = Object.freeze({
  email_confirm: 7 * 24 * 3600_000,
  email_change: 24 * 3600_000,
  password_reset: 3600_000,
});

/** Frontend pages the links open; the page posts the token back to the matching endpoint. */
export const EMAIL_LINK_PATHS: Readonly<Record<EmailTokenKind, string>> = Object.freeze({
  email_confirm: "/confirm-email",
  email_change: "/change-email",
  password_reset: "/reset-password",
});

export interface Emails {
  /** Creates the token and queues the email in `tx`. */
  queue(tx: Db, kind: EmailTokenKind, user: { id: string; email: string }): Promise<void>;
}

export function createEmails({ vault, frontendUrl }: { vault: Vault; frontendUrl: string }): Emails {
  const base = frontendUrl.replace(/\/+$/, "");
  return {
    async queue(tx, kind, user) {
      const { token, hash } = newOpaqueToken();
      await insertEmailToken(tx, {
        userId: user.id,
        kind,
        hash,
        sentTo: user.email,
        ttlMs: EMAIL_TOKEN_TTL_MS[kind],
      });
      const link = `${base}${EMAIL_LINK_PATHS[kind]}?token=${encodeURIComponent(token)}`;
      const email = compose(kind, user.email, link);
      const id = randomUUID();
      await enqueueOutbox(tx, { id, payload: vault.seal(JSON.stringify(email), outboxAssociatedData(id)) });
    },
  };
}

function compose(kind: EmailTokenKind, to: string, link: string): Email {
  switch (kind) {
    case "email_confirm":
      return {
        to,
        subject: "Confirm your email address",
        text: `Hello,\n\nConfirm the address ${to} for your Nexus account by opening this link:\n\n${link}\n\nThe link works once and expires in 7 days. If you did not create an account, ignore this email.\n`,
      };
    case "email_change":
      return {
        to,
        subject: "Change your email address",
        text: `Hello,\n\nSomeone (hopefully you) asked to change the email address of your Nexus account. To choose a new address, open this link:\n\n${link}\n\nThe link works once and expires in 24 hours. If this was not you, ignore this email and consider changing your password.\n`,
      };
    case "password_reset":
      return {
        to,
        subject: "Reset your password",
        text: `Hello,\n\nTo set a new password for your Nexus account, open this link:\n\n${link}\n\nThe link works once and expires in 1 hour. If you did not ask for this, ignore this email: your password stays as it is.\n`,
      };
  }
}
