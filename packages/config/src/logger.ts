/**
 * @module
 * pino: JSON lines in production, pretty in development. Secrets are redacted by path so a
 * careless `log.info({body})` cannot leak a password or token.
 */
import pino, { type Logger } from "pino";

export type { Logger } from "pino";

const SECRET_KEYS = [
  "password",
  "new_password",
  "new_password_confirmation",
  "token",
  "auth_token",
  "refresh_token",
  "authorization",
  "jwtSecret",
  "vaultKey",
  "previousVaultKeys",
  "adminToken",
  "secret",
  "private_key",
];

/** Top-level and one level deep (`{body: {password}}`, `{headers: {authorization}}`). */
export const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`)];

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  name?: string;
  /** Defaults to stdout. Tests pass a stream to capture lines. */
  destination?: pino.DestinationStream;
}

export function createLogger({ level, pretty, name, destination }: LoggerOptions): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    ...(name ? { name } : {}),
  };
  if (destination) return pino(options, destination);
  if (pretty) {
    return pino({
      ...options,
      transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l" } },
    });
  }
  return pino(options);
}
