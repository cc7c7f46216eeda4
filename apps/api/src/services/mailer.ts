/**
 * @module
 * Sending one email. Over SMTP with nodemailer when SMTP_URL is set; otherwise to the log, so
 * a development node shows the links it would have mailed. The outbox worker is the only
 * caller: it owns retries.
 */
import type { Logger } from "@nexus/config";
import nodemailer from "nodemailer";

export interface Email {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  readonly kind: "smtp" | "log";
  /** Rejects when the message was not accepted (the worker retries it later). */
  send(email: Email): Promise<void>;
  close(): void;
}

export function createSmtpMailer({ url, from }: { url: string; from: string }): Mailer {
  const transport = nodemailer.createTransport({
    url,
    // A hung server must fail the attempt, not hold the worker for nodemailer's minutes-long defaults.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    kind: "smtp",
    async send(email) {
      await transport.sendMail({ from, to: email.to, subject: email.subject, text: email.text });
    },
    close() {
      transport.close();
    },
  };
}

/** Development: the whole message, links included, goes to the log at info level. */
export function createLogMailer(log: Pick<Logger, "info">, from: string): Mailer {
  return {
    kind: "log",
    async send(email) {
      log.info(
        { mail: { from, to: email.to, subject: email.subject, text: email.text } },
        "email (SMTP_URL unset)",
      );
    },
    close() {},
  };
}
