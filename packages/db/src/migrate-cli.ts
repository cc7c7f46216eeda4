/**
 * @module
 * `pnpm db:migrate`: applies pending migrations to DATABASE_URL and exits. Idempotent, and
 * safe to run from several pods at once (see the advisory lock in client.ts).
 */
import { createLogger, loadConfig } from "@nexus/config";
import { createDb } from "./client.js";

const config = loadConfig("migrate");
const log = createLogger({ level: config.logLevel, pretty: !config.production, name: "migrate" });
const handle = createDb({ kind: "postgres", url: config.databaseUrl!, poolSize: 2 });
try {
  await handle.migrate();
  log.info("migrations applied");
} catch (e) {
  log.error({ err: e }, "migration failed");
  process.exitCode = 1;
} finally {
  await handle.close();
}
