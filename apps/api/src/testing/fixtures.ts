/** @module Small helpers shared by the api's integration tests. */
import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { ApiServer } from "./api-server.js";

export const PASSWORD = "correct horse battery staple";

export interface Registered {
  id: string;
  email: string;
  authToken: string;
  refreshToken: string;
}

export const uniqueEmail = (label = "user") => `${label}-${randomUUID().slice(0, 8)}@example.com`;

export async function register(
  server: ApiServer,
  {
    email = uniqueEmail(),
    password = PASSWORD,
    displayName,
  }: { email?: string; password?: string; displayName?: string } = {},
): Promise<Registered> {
  const res = await server.call("POST", "/auth/register", {
    body: { email, password, ...(displayName === undefined ? {} : { display_name: displayName }) },
  });
  expect(res.status, res.text).toBe(201);
  const json = res.json as { user: { id: string }; auth_token: string; refresh_token: string };
  return { id: json.user.id, email, authToken: json.auth_token, refreshToken: json.refresh_token };
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
export const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
export const REFRESH_RE = /^[A-Za-z0-9_-]{43}$/;

export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
