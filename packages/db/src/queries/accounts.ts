/**
 * @module
 * Accounts: users with their 1:1 profile, looked up by id or by email (case-insensitively, the
 * way the unique index compares them), password and email changes, and sign-out everywhere.
 */
import { eq, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import type { Db } from "../client.js";
import { profiles, users } from "../schema.js";

export interface AccountUser {
  id: string;
  email: string;
  displayName: string;
  passwordHash: string;
  emailConfirmedAt: string | null;
}

export interface Profile {
  hidden: boolean;
  theme: "day" | "night";
  magnification: number;
  recents: string[];
}

export type ProfilePatch = Partial<Profile>;

const accountColumns = {
  id: users.id,
  email: users.email,
  displayName: users.displayName,
  passwordHash: users.passwordHash,
  emailConfirmedAt: users.emailConfirmedAt,
};

const profileColumns = {
  hidden: profiles.hidden,
  theme: profiles.theme,
  magnification: profiles.magnification,
  recents: profiles.recents,
};

/** Postgres unique_violation (SQLSTATE 23505), as thrown through drizzle by either driver. */
export function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === "object" && depth < 4; depth++) {
    if ((e as { code?: unknown }).code === "23505") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export async function findUserByEmail(db: Db, email: string): Promise<AccountUser | undefined> {
  const rows = await db
    .select(accountColumns)
    .from(users)
    .where(sql`lower(${users.email}) = lower(${email})`)
    .limit(1);
  return rows[0];
}

export async function findUserById(db: Db, userId: string): Promise<AccountUser | undefined> {
  const rows = await db.select(accountColumns).from(users).where(eq(users.id, userId)).limit(1);
  return rows[0];
}

export async function findUserWithProfile(
  db: Db,
  userId: string,
): Promise<{ user: AccountUser; profile: Profile } | undefined> {
  const rows = await db
    .select({ user: accountColumns, profile: profileColumns })
    .from(users)
    .innerJoin(profiles, eq(profiles.userId, users.id))
    .where(eq(users.id, userId))
    .limit(1);
  const row = rows[0];
  return row === undefined ? undefined : { user: row.user, profile: asProfile(row.profile) };
}

/**
 * Creates the user and its default profile. An address already taken (in any letter case) is a
 * value, not a throw, and leaves the surrounding transaction usable (ON CONFLICT DO NOTHING).
 */
export async function createUser(
  db: Db,
  values: { email: string; displayName: string; passwordHash: string },
): Promise<{ ok: true; user: AccountUser; profile: Profile } | { ok: false; error: "email_taken" }> {
  const [user] = await db.insert(users).values(values).onConflictDoNothing().returning(accountColumns);
  if (user === undefined) return { ok: false, error: "email_taken" };
  const [profile] = await db.insert(profiles).values({ userId: user.id }).returning(profileColumns);
  return { ok: true, user, profile: asProfile(profile!) };
}

export async function setPasswordHash(db: Db, userId: string, passwordHash: string): Promise<void> {
  await db.update(users).set({ passwordHash, updatedAt: sql`clock_timestamp()` }).where(eq(users.id, userId));
}

/**
 * Sign-out everywhere: access tokens issued at or before `atMs` are refused from now on. Never
 * moves the time backwards (two sign-outs racing keep the later one).
 */
export async function setTokensValidAfter(db: Db, userId: string, atMs: number): Promise<void> {
  const at = new Date(atMs).toISOString();
  await db
    .update(users)
    .set({ tokensValidAfter: sql`greatest(${users.tokensValidAfter}, ${at}::timestamptz)` })
    .where(eq(users.id, userId));
}

/** Marks the address confirmed, but only if it is still the one the token was sent to. */
export async function confirmEmail(db: Db, userId: string, email: string): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ emailConfirmedAt: sql`coalesce(${users.emailConfirmedAt}, clock_timestamp())` })
    .where(sql`${users.id} = ${userId} and lower(${users.email}) = lower(${email})`)
    .returning({ id: users.id });
  return rows.length > 0;
}

/**
 * Moves the account to a new address, unconfirmed. A taken address is a value; callers inside
 * a transaction must check `isUniqueViolation` on a throw for the rare race between two
 * requests claiming the same address at once.
 */
export async function changeEmail(
  db: Db,
  userId: string,
  email: string,
): Promise<{ ok: true } | { ok: false; error: "email_taken" }> {
  const taken = await db
    .select({ id: users.id })
    .from(users)
    .where(sql`lower(${users.email}) = lower(${email}) and ${users.id} <> ${userId}`)
    .limit(1);
  if (taken.length > 0) return { ok: false, error: "email_taken" };
  await db
    .update(users)
    .set({ email, emailConfirmedAt: null, updatedAt: sql`clock_timestamp()` })
    .where(eq(users.id, userId));
  return { ok: true };
}

/** Applies the fields present in `patch`; returns the whole profile after the change. */
export async function updateProfile(
  db: Db,
  userId: string,
  patch: ProfilePatch,
): Promise<Profile | undefined> {
  const set: PgUpdateSetSource<typeof profiles> = { updatedAt: sql`clock_timestamp()` };
  if (patch.hidden !== undefined) set.hidden = patch.hidden;
  if (patch.theme !== undefined) set.theme = patch.theme;
  if (patch.magnification !== undefined) set.magnification = patch.magnification;
  if (patch.recents !== undefined) set.recents = patch.recents;
  const rows = await db
    .update(profiles)
    .set(set)
    .where(eq(profiles.userId, userId))
    .returning(profileColumns);
  return rows[0] === undefined ? undefined : asProfile(rows[0]);
}

// The check constraint guarantees the theme; the type system cannot know.
function asProfile(row: {
  hidden: boolean;
  theme: string;
  magnification: number;
  recents: string[];
}): Profile {
  return { ...row, theme: row.theme === "night" ? "night" : "day" };
}
