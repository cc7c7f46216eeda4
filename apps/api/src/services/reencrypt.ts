/**
 * @module
 * VAULT_KEY rotation, the sweep behind `pnpm vault:reencrypt`: every row the vault sealed under
 * a key other than the current one is opened (with a previous key) and sealed again under the
 * current key, with the same associated data. Once a sweep reports nothing left, the old key
 * can leave VAULT_PREVIOUS_KEYS.
 *
 * Safe next to live api nodes: a rewrite only lands if the row still holds the bytes that were
 * read, so a member uploading keys meanwhile is never overwritten. Rows that do not open (a key
 * nobody configured, or bytes that do not authenticate) are counted and left untouched: the
 * sweep never destroys what it cannot read.
 */
import type { Logger } from "@nexus/config";
import {
  type Db,
  encryptionKeysNotOnKey,
  type KeyRowCursor,
  resealEncryptionKeys,
  resealOutboxPayload,
  type SealedKeyRow,
  sealedOutboxPage,
} from "@nexus/db";
import { keyAssociatedData } from "../routes/keys.js";
import { outboxAssociatedData } from "./outbox-worker.js";
import type { Vault } from "./vault.js";

export interface ReencryptOptions {
  db: Db;
  vault: Vault;
  log: Pick<Logger, "info" | "warn" | "error">;
  /** Rows read per page. */
  batchSize?: number;
}

export interface ReencryptResult {
  /** The key everything re-encrypted is now sealed with. */
  currentKeyId: string;
  encryptionKeys: number;
  outbox: number;
  /** Rows on an old key that no configured key opens; left as they are. */
  unopenable: number;
  /** Rows a writer changed between the read and the rewrite; left as the writer made them. */
  changed: number;
}

export async function reencryptVaultRows(options: ReencryptOptions): Promise<ReencryptResult> {
  const keys = await reencryptKeys(options);
  const mail = await reencryptOutbox(options);
  return {
    currentKeyId: options.vault.keyId,
    encryptionKeys: keys.done,
    outbox: mail.done,
    unopenable: keys.unopenable + mail.unopenable,
    changed: keys.changed + mail.changed,
  };
}

/** `re-encrypted 12 encryption_keys rows, 3 outbox rows; 0 could not be opened; current key k…` */
export function summaryLine(r: ReencryptResult): string {
  const changed = r.changed > 0 ? `; ${r.changed} changed while running (run again to cover them)` : "";
  return `re-encrypted ${r.encryptionKeys} encryption_keys rows, ${r.outbox} outbox rows; ${r.unopenable} could not be opened${changed}; current key ${r.currentKeyId}`;
}

interface Tally {
  done: number;
  unopenable: number;
  changed: number;
}

async function reencryptKeys({ db, vault, log, batchSize = 500 }: ReencryptOptions): Promise<Tally> {
  const tally: Tally = { done: 0, unopenable: 0, changed: 0 };
  let after: KeyRowCursor | undefined;
  for (;;) {
    const rows = await encryptionKeysNotOnKey(db, { keyId: vault.keyId, after, limit: batchSize });
    for (const row of rows) {
      const opened = openKeys(vault, row);
      if (!opened.ok) {
        tally.unopenable++;
        log.error(
          {
            table: "encryption_keys",
            conversationId: row.conversationId,
            userId: row.userId,
            vaultKeyId: row.vaultKeyId,
            error: opened.error,
          },
          "vault: row does not open with any configured key; left as it is",
        );
        continue;
      }
      const ad = (which: "public" | "private") => keyAssociatedData(row.conversationId, row.userId, which);
      const stored = await resealEncryptionKeys(db, {
        old: row,
        publicKey: vault.seal(opened.publicKey, ad("public")),
        privateKey: vault.seal(opened.privateKey, ad("private")),
        vaultKeyId: vault.keyId,
      });
      if (stored) tally.done++;
      else tally.changed++;
    }
    const last = rows.at(-1);
    if (rows.length < batchSize || last === undefined) return tally;
    after = { conversationId: last.conversationId, userId: last.userId };
  }
}

/** Both halves open, or the row is left alone: never re-seal one key and strand the other. */
function openKeys(
  vault: Vault,
  row: SealedKeyRow,
): { ok: true; publicKey: Buffer; privateKey: Buffer } | { ok: false; error: string } {
  const pub = vault.open(row.publicKey, keyAssociatedData(row.conversationId, row.userId, "public"));
  if (!pub.ok) return { ok: false, error: `public key: ${pub.error}` };
  const priv = vault.open(row.privateKey, keyAssociatedData(row.conversationId, row.userId, "private"));
  if (!priv.ok) return { ok: false, error: `private key: ${priv.error}` };
  return { ok: true, publicKey: pub.plaintext, privateKey: priv.plaintext };
}

async function reencryptOutbox({ db, vault, log, batchSize = 500 }: ReencryptOptions): Promise<Tally> {
  const tally: Tally = { done: 0, unopenable: 0, changed: 0 };
  let after: string | undefined;
  for (;;) {
    const rows = await sealedOutboxPage(db, { after, limit: batchSize });
    for (const row of rows) {
      // No key-id column here: the ciphertext's own header says which key sealed it.
      const keyId = vault.keyIdOf(row.payload);
      if (keyId === vault.keyId) continue;
      const opened = vault.open(row.payload, outboxAssociatedData(row.id));
      if (!opened.ok) {
        tally.unopenable++;
        log.error(
          { table: "outbox", id: row.id, vaultKeyId: keyId ?? null, error: opened.error },
          "vault: row does not open with any configured key; left as it is",
        );
        continue;
      }
      const payload = vault.seal(opened.plaintext, outboxAssociatedData(row.id));
      if (await resealOutboxPayload(db, { id: row.id, old: row.payload, payload })) tally.done++;
      else tally.changed++;
    }
    const last = rows.at(-1);
    if (rows.length < batchSize || last === undefined) return tally;
    after = last.id;
  }
}
