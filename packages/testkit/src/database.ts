/**
 * @module
 * One database per test file, so files run in parallel without seeing each other's rows.
 * The global setup migrates a template once; cloning it (CREATE DATABASE … TEMPLATE) is
 * far faster than migrating every file's database.
 */
import { randomBytes } from "node:crypto";
import postgres from "postgres";

export const TEMPLATE_DB = "nexus_template";

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * Creates a fresh database on the server behind `adminUrl`: a clone of the migrated
 * template, or an empty one (`{ migrated: false }`) for tests of the migrations themselves.
 */
export async function createTestDatabase(
  adminUrl: string,
  { migrated = true }: { migrated?: boolean } = {},
): Promise<TestDatabase> {
  const name = `nexus_t_${randomBytes(6).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    // Identifiers cannot be bound parameters; both names are generated here, never user input.
    await admin.unsafe(`create database ${name} template ${migrated ? TEMPLATE_DB : "template0"}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    name,
    url: withDatabase(adminUrl, name),
    async drop() {
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end({ timeout: 5 });
      }
    },
  };
}

/** (Re)creates the migrated template database. Run once per test run, before any clone. */
export async function prepareTemplate(
  adminUrl: string,
  migrateTo: (url: string) => Promise<void>,
): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${TEMPLATE_DB} with (force)`);
    await admin.unsafe(`create database ${TEMPLATE_DB} template template0`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  await migrateTo(withDatabase(adminUrl, TEMPLATE_DB));
}
