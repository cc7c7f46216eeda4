/**
 * POST /api/announcements: only with ADMIN_TOKEN (a user's access token is not enough), absent
 * (404) on a node started without one, validated, and broadcast on `system:general`.
 */
import { createTestDatabase, type TestDatabase } from "@nexus/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ApiServer, recordTopic, startApiServer } from "../testing/api-server.js";
import { register, TIMESTAMP_RE, UUID_RE } from "../testing/fixtures.js";

const ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef";
let tdb: TestDatabase;
let server: ApiServer;
let plain: ApiServer;

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  [server, plain] = await Promise.all([
    startApiServer({ databaseUrl: tdb.url, adminToken: ADMIN_TOKEN }),
    startApiServer({ databaseUrl: tdb.url }),
  ]);
});
afterAll(async () => {
  await server?.close();
  await plain?.close();
  await tdb?.drop();
});

describe("POST /api/announcements", () => {
  it("broadcasts on system:general with the admin token, and refuses everything else", async () => {
    const events = await recordTopic(server.hub, "system:general");
    const user = await register(server);
    const post = (
      s: ApiServer,
      token: string | undefined,
      body: unknown = { text: "Maintenance at 22:00" },
    ) => s.call("POST", "/api/announcements", { body, ...(token === undefined ? {} : { token }) });

    expect((await post(server, undefined)).status).toBe(401);
    expect((await post(server, user.authToken)).status).toBe(401);
    expect((await post(server, `${ADMIN_TOKEN}x`)).status).toBe(401);
    expect((await post(plain, ADMIN_TOKEN)).status).toBe(404);
    const empty = await post(server, ADMIN_TOKEN, { text: "   " });
    expect(empty.status).toBe(422);
    expect(empty.json).toEqual({ errors: { text: [expect.any(String)] } });
    expect(events.messages).toEqual([]);

    const ok = await post(server, ADMIN_TOKEN);
    expect(ok.status).toBe(201);
    const announcement = (ok.json as { announcement: Record<string, unknown> }).announcement;
    expect(announcement).toEqual({
      id: expect.stringMatching(UUID_RE),
      text: "Maintenance at 22:00",
      inserted_at: expect.stringMatching(TIMESTAMP_RE),
    });
    expect(events.messages).toEqual([
      {
        kind: "broadcast",
        topic: "system:general",
        event: "announcement",
        payload: JSON.stringify(announcement),
      },
    ]);
    expect(server.logLines.join("")).not.toContain(ADMIN_TOKEN);
    await events.stop();
  });
});
