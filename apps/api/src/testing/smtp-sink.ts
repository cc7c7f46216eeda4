/**
 * @module
 * A real SMTP server for tests (smtp-server on a free port, no TLS, no auth) that keeps what it
 * receives. It can be told to refuse mail (`failing`) to exercise the outbox's retries.
 */
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  to: string[];
  subject: string;
  /** Body, transfer encoding undone. */
  text: string;
  raw: string;
}

export interface SmtpSink {
  url: string;
  received: ReceivedMail[];
  /** While true, every message is refused with a temporary error (451). */
  failing: boolean;
  /** Attempts refused so far. */
  refused: number;
  /** Resolves with the first message (already received or coming) that matches. */
  waitFor(match: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const waiters: { match: (m: ReceivedMail) => boolean; resolve: (m: ReceivedMail) => void }[] = [];
  const sink = {
    url: "",
    received: [] as ReceivedMail[],
    failing: false,
    refused: 0,
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (sink.failing) {
          sink.refused++;
          const err = Object.assign(new Error("try again later"), { responseCode: 451 });
          callback(err);
          return;
        }
        const mail = parse(
          Buffer.concat(chunks).toString("utf8"),
          session.envelope.rcptTo.map((r) => r.address),
        );
        sink.received.push(mail);
        for (const w of [...waiters]) {
          if (w.match(mail)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(mail);
          }
        }
        callback();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
  sink.url = `smtp://127.0.0.1:${port}`;
  return Object.assign(sink, {
    waitFor(match: (m: ReceivedMail) => boolean, timeoutMs = 10_000) {
      const found = sink.received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise<ReceivedMail>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no matching email received in time")), timeoutMs);
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

function parse(raw: string, to: string[]): ReceivedMail {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, " ");
  let body = raw.slice(split + 4);
  const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "im").exec(head)?.[1]?.trim() ?? "";
  const encoding = header("Content-Transfer-Encoding").toLowerCase();
  if (encoding === "quoted-printable") {
    body = body
      .replace(/=\r?\n/g, "")
      .replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  } else if (encoding === "base64") {
    body = Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  }
  return { to, subject: header("Subject"), text: body.replace(/\r\n/g, "\n"), raw };
}

/** The one-time token in an email's link. */
export function tokenIn(mail: ReceivedMail): string {
  const m = /[?&]token=([A-Za-z0-9_-]{43})\b/.exec(mail.text);
  if (!m) throw new Error(`no token link in email:\n${mail.text}`);
  return m[1]!;
}
