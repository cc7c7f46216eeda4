/**
 * @module
 * `pnpm vault:reencrypt`: after a VAULT_KEY rotation, seals every row still on an old key
 * under the current one (services/reencrypt.ts), prints one summary line and exits. Needs
 * DATABASE_URL and VAULT_KEY, plus the old keys in VAULT_PREVIOUS_KEYS; safe to run while api
 * nodes serve, and again (a second run finds nothing to do). Exits 1 if any row could not be
 * opened, after re-encrypting everything else.
 */
import { createLogger, loadConfig } from "@nexus/config";
import { createDb } from "@nexus/db";
import { reencryptVaultRows, summaryLine } from "./services/reencrypt.js";
import { createVault } from "./services/vault.js";

const config = loadConfig("vault");
const log = createLogger({ level: config.logLevel, pretty: !config.production, name: "vault" });
const vault = createVault({ current: config.vaultKey!, previous: config.previousVaultKeys });
const handle = createDb({ kind: "postgres", url: config.databaseUrl!, poolSize: 2 });
try {
  const result = await reencryptVaultRows({ db: handle.db, vault, log });
  process.stdout.write(`${summaryLine(result)}\n`);
  if (result.unopenable > 0) {
    log.error(
      { unopenable: result.unopenable, previousKeys: config.previousVaultKeys.length },
      "some rows are sealed with a key that is not configured (is every old key in VAULT_PREVIOUS_KEYS?) or do not authenticate",
    );
    process.exitCode = 1;
  }
} catch (e) {
  log.error({ err: e }, "re-encryption failed");
  process.exitCode = 1;
} finally {
  await handle.close();
}
