/**
 * @module
 * Development secrets for the standalone node: generated once, kept in `<dataDir>/secrets.json`
 * (mode 0600), so tokens survive restarts. Production nodes never come here: they refuse to
 * start without JWT_SECRET and VAULT_KEY (config.ts).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Secrets {
  jwtSecret: string;
  vaultKey: Buffer;
}

interface StoredSecrets {
  jwtSecret: string;
  vaultKey: string;
}

function read(path: string): StoredSecrets | undefined {
  try {
    const s = JSON.parse(readFileSync(path, "utf8")) as Partial<StoredSecrets>;
    if (typeof s.jwtSecret === "string" && s.jwtSecret.length >= 32 && typeof s.vaultKey === "string") {
      if (Buffer.from(s.vaultKey, "base64").length === 32) return s as StoredSecrets;
    }
    throw new Error(`${path} is not a valid secrets file; delete it to generate new development secrets`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Given values win; missing ones come from (or are generated into) the secrets file. */
export function ensureDevSecrets(
  dataDir: string,
  given: { jwtSecret?: string | undefined; vaultKey?: Buffer | undefined },
): { secrets: Secrets; generated: boolean; path: string } {
  const path = join(dataDir, "secrets.json");
  if (given.jwtSecret && given.vaultKey) {
    return { secrets: { jwtSecret: given.jwtSecret, vaultKey: given.vaultKey }, generated: false, path };
  }
  let stored = read(path);
  let generated = false;
  if (!stored) {
    mkdirSync(dataDir, { recursive: true });
    const fresh: StoredSecrets = {
      jwtSecret: randomBytes(48).toString("base64url"),
      vaultKey: randomBytes(32).toString("base64"),
    };
    try {
      // 'wx': two nodes racing on a fresh dir must not each write their own secret.
      writeFileSync(path, `${JSON.stringify(fresh, null, 2)}\n`, { flag: "wx", mode: 0o600 });
      stored = fresh;
      generated = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      stored = read(path)!;
    }
  }
  return {
    secrets: {
      jwtSecret: given.jwtSecret ?? stored.jwtSecret,
      vaultKey: given.vaultKey ?? Buffer.from(stored.vaultKey, "base64"),
    },
    generated,
    path,
  };
}
