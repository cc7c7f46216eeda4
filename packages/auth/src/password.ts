/**
 * @module Password hashing (argon2id) and the password policy.
 *
 * `hash`/`verify` from @node-rs/argon2 are async: they run on libuv's threadpool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise), never on the event loop. Each one holds `memoryCost` KiB while
 * it runs, so the login endpoints must be rate limited (DESIGN §7), not just fast.
 *
 * Passwords are NFKC-normalised before hashing and verifying (NIST SP 800-63B §5.1.1.2), so the
 * same password typed on two keyboards that compose "é" differently still matches.
 */
import type { Algorithm, Version } from "@node-rs/argon2";
import { hash, parseOptions, verify } from "@node-rs/argon2";

// The package declares these as `const enum`s, which isolatedModules cannot read: use their values.
const ARGON2ID = 2 as Algorithm.Argon2id;
const V0X13 = 1 as Version.V0x13;

/**
 * OWASP Password Storage Cheat Sheet, argon2id: the first of its equivalent minimums (m = 19 MiB,
 * t = 2, p = 1). Raising any of these makes needsRehash true for older hashes, which the api
 * rehashes on the user's next successful login; DUMMY_HASH must then be regenerated (a test checks).
 */
export const PASSWORD_HASH_PARAMS = Object.freeze({
  algorithm: ARGON2ID,
  version: V0X13,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
});

/**
 * An argon2id hash with PASSWORD_HASH_PARAMS of a random, discarded password. dummyVerify checks
 * against it so that a login for an unknown email does the same argon2 work as for a known one.
 */
export const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$+tE11E5UV+3M+mv7z85B2g$b2PV0J+6BC50E+zjLIhFntKNqNisH1Xj5tdHAJ3wOjI";

export const PASSWORD_MIN_LENGTH = 12;
/** Argon2 would take far more, but nobody types 1 KiB; the bound keeps request work bounded. */
export const PASSWORD_MAX_LENGTH = 1024;

const normalize = (password: string) => password.normalize("NFKC");

/** Throws only on a bug (not a string). Check passwordPolicy first. */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== "string") throw new TypeError("hashPassword: password must be a string");
  return hash(normalize(password), PASSWORD_HASH_PARAMS);
}

/** False for a wrong password and for anything that is not an argon2 hash (never throws). */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  if (typeof storedHash !== "string" || typeof password !== "string") return false;
  try {
    return await verify(storedHash, normalize(password));
  } catch {
    // "Decoding failed" and friends: a corrupt or foreign (bcrypt…) hash matches nothing.
    return false;
  }
}

/**
 * Always false, after the same argon2 work as a real verification. Call it when the email is
 * unknown (or the user has no password hash) so response time does not reveal which accounts exist.
 */
export async function dummyVerify(password: string): Promise<false> {
  await verifyPassword(DUMMY_HASH, typeof password === "string" ? password : "");
  return false;
}

/**
 * True when the hash is not argon2id v19 with at least the current cost parameters (or cannot be
 * parsed). The api calls this after a successful login and stores hashPassword(password) if so.
 */
export function needsRehash(storedHash: string): boolean {
  try {
    const p = parseOptions(storedHash);
    const want = PASSWORD_HASH_PARAMS;
    return (
      p.algorithm !== want.algorithm ||
      p.version !== want.version ||
      p.memoryCost < want.memoryCost ||
      p.timeCost < want.timeCost ||
      p.parallelism < want.parallelism ||
      p.outputLen < want.outputLen
    );
  } catch {
    return true;
  }
}

// A few very common passwords that pass the length rule. Not a breach corpus: a k-anonymity
// breached-password check, if ever wanted, belongs in the api, which may do I/O.
const COMMON = new Set([
  "passwordpassword",
  "password1234",
  "password12345",
  "password123456",
  "qwertyuiop123",
  "qwertyuiopasdfghjkl",
  "iloveyou1234",
  "letmein12345",
  "administrator",
  "changeme1234",
  "welcome12345",
]);

/**
 * Human-readable problems with a new password; empty means acceptable. NIST SP 800-63B style:
 * length over composition (no "one digit and one symbol" rules), any Unicode allowed, spaces kept,
 * length counted in code points after NFKC, and refusal of the obvious: the email itself, one
 * character repeated, a straight run ("abcdefghijkl", "987654321098"…), a very common password.
 * Messages follow Ecto's wording, since the api returns them as 422 `{"errors": {"password": [...]}}`.
 */
export function passwordPolicy(password: unknown, context: { email?: string | undefined } = {}): string[] {
  if (typeof password !== "string" || password.trim() === "") return ["can't be blank"];
  const normalized = normalize(password);
  const codePoints = [...normalized];
  const problems: string[] = [];
  if (codePoints.length < PASSWORD_MIN_LENGTH) {
    problems.push(`should be at least ${PASSWORD_MIN_LENGTH} character(s)`);
  }
  if (codePoints.length > PASSWORD_MAX_LENGTH) {
    problems.push(`should be at most ${PASSWORD_MAX_LENGTH} character(s)`);
    return problems; // don't scan megabytes for the rules below
  }
  const lower = normalized.toLowerCase();
  const email = context.email?.trim().toLowerCase();
  if (email !== undefined && email !== "") {
    const local = email.split("@")[0] ?? "";
    if (lower === email || lower === local) problems.push("must not be the same as your email");
  }
  if (isStraightRun([...lower]) || COMMON.has(lower)) problems.push("is too common or easy to guess");
  return problems;
}

/** One character repeated, or each character one code point above (or below) the previous. */
function isStraightRun(chars: string[]): boolean {
  if (chars.length < 2) return false;
  const codes = chars.map((c) => c.codePointAt(0) ?? 0);
  const step = (codes[1] ?? 0) - (codes[0] ?? 0);
  if (Math.abs(step) > 1) return false;
  for (let i = 2; i < codes.length; i++) {
    const delta = (codes[i] ?? 0) - (codes[i - 1] ?? 0);
    // Digits wrap around ("7890123…" and "3210987…" are runs people type).
    const wrapped =
      (step === 1 && codes[i - 1] === 0x39 && codes[i] === 0x30) ||
      (step === -1 && codes[i - 1] === 0x30 && codes[i] === 0x39);
    if (delta !== step && !wrapped) return false;
  }
  return true;
}
