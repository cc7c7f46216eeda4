/**
 * @module
 * What every route module receives: the services built once by mountApi. Routes do not build
 * anything themselves, so tests and the standalone node can swap pieces (mailer, limiter).
 */
import type { AccessTokens, ValidAfterCache } from "@nexus/auth";
import type { Logger } from "@nexus/config";
import type { Db, PageTokens } from "@nexus/db";
import type { Emails } from "./services/emails.js";
import type { ApiEvents } from "./services/events.js";
import type { OutboxWorker } from "./services/outbox-worker.js";
import type { Sessions } from "./services/sessions.js";
import type { Vault } from "./services/vault.js";

export interface ApiContext {
  db: Db;
  log: Logger;
  accessTokens: AccessTokens;
  validAfter: ValidAfterCache;
  sessions: Sessions;
  emails: Emails;
  outbox: OutboxWorker;
  events: ApiEvents;
  vault: Vault;
  pageTokens: PageTokens;
  /** Work finished after the response (e.g. password-reset mail); awaited on close. */
  background(task: () => Promise<void>): void;
}
