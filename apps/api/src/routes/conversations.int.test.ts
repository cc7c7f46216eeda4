/**
 * Conversations (DESIGN §4.5): private and group creation, listing, members, keys sealed at
 * rest, the private-pair lookup, and the bus events each change publishes.
 */
import { schema } from "@nexus/db";
import { createTestDatabase, type TestDatabase } from "@nexus/testkit";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { USERS_CONTROL_TOPIC } from "../services/events.js";
import { type ApiServer, recordTopic, startApiServer } from "../testing/api-server.js";
import { PASSWORD, type Registered, register, TIMESTAMP_RE, UUID_RE } from "../testing/fixtures.js";

let tdb: TestDatabase;
let server: ApiServer;

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  server = await startApiServer({ databaseUrl: tdb.url });
});
afterAll(async () => {
  await server?.close();
  await tdb?.drop();
});

const summary = (u: Registered) => ({ id: u.id, email: u.email, display_name: u.email });
const conversationShape = (extra: Record<string, unknown>) => ({
  id: expect.stringMatching(UUID_RE),
  inserted_at: expect.stringMatching(TIMESTAMP_RE),
  updated_at: expect.stringMatching(TIMESTAMP_RE),
  ...extra,
});
type Created = { conversation: { id: string; private: boolean; alias: string | null }; users: unknown[] };

async function createGroup(owner: Registered, others: Registered[], alias = "Besties 4eva"): Promise<string> {
  const res = await server.call("POST", "/api/conversations", {
    token: owner.authToken,
    body: { private: false, user_ids: others.map((u) => u.id), alias },
  });
  expect(res.status).toBe(201);
  return (res.json as Created).conversation.id;
}

describe("POST /api/conversations", () => {
  it("private: 201 once per pair, 200 with the same conversation after, events to the other user", async () => {
    const [a, b] = [await register(server), await register(server)];
    const aEvents = await recordTopic(server.hub, `user:${a.id}`);
    const bEvents = await recordTopic(server.hub, `user:${b.id}`);
    const control = await recordTopic(server.hub, USERS_CONTROL_TOPIC);
    const res = await server.call("POST", "/api/conversations", {
      token: a.authToken,
      body: { private: true, user_ids: [b.id] },
    });
    expect(res.status).toBe(201);
    const body = res.json as Created;
    expect(body).toEqual({
      conversation: conversationShape({ private: true, alias: null }),
      users: expect.arrayContaining([summary(a), summary(b)]),
    });
    expect(body.users).toHaveLength(2);
    const again = await server.call("POST", "/api/conversations", {
      token: b.authToken,
      body: { private: true, user_ids: [a.id.toUpperCase()] },
    });
    expect(again.status).toBe(200);
    expect((again.json as Created).conversation).toEqual(body.conversation);

    await expect
      .poll(() => bEvents.messages)
      .toEqual([
        {
          kind: "broadcast",
          topic: `user:${b.id}`,
          event: "conversation_added",
          payload: JSON.stringify({ conversation: body.conversation }),
        },
      ]);
    expect(aEvents.messages).toEqual([]); // the creator learns from the response
    expect(control.messages).toEqual(
      expect.arrayContaining(
        [a.id, b.id].map((userId) => ({
          kind: "control",
          topic: USERS_CONTROL_TOPIC,
          action: "membership_changed",
          data: { conversationId: body.conversation.id, userId },
        })),
      ),
    );
    await Promise.all([aEvents.stop(), bEvents.stop(), control.stop()]);
  });

  it("private: refuses an alias, anything but one other user, and unknown users", async () => {
    const [a, b, c] = [await register(server), await register(server), await register(server)];
    const cases: [Record<string, unknown>, Record<string, string[]>][] = [
      [
        { private: true, user_ids: [b.id], alias: "x" },
        { alias: ["must be blank for a private conversation"] },
      ],
      [
        { private: true, user_ids: [] },
        { user_ids: ["must name exactly one other user for a private conversation"] },
      ],
      [
        { private: true, user_ids: [a.id] },
        { user_ids: ["must name exactly one other user for a private conversation"] },
      ],
      [
        { private: true, user_ids: [b.id, c.id] },
        { user_ids: ["must name exactly one other user for a private conversation"] },
      ],
      [
        { private: true, user_ids: ["00000000-0000-4000-8000-000000000000"] },
        { user_ids: ["contains unknown users"] },
      ],
      [{ private: true, user_ids: ["nope"] }, { user_ids: ["is invalid"] }],
      [{ user_ids: [b.id] }, { private: ["can't be blank"] }],
      [
        { private: false, user_ids: [b.id], alias: "x".repeat(101) },
        { alias: ["should be at most 100 character(s)"] },
      ],
    ];
    for (const [body, errors] of cases) {
      const res = await server.call("POST", "/api/conversations", { token: a.authToken, body });
      expect({ body, status: res.status, json: res.json }).toEqual({ body, status: 422, json: { errors } });
    }
  });

  it("group: 201 with the alias and every member; listed for each member, newest first; in the login payload", async () => {
    const [a, b, c] = [await register(server), await register(server), await register(server)];
    const res = await server.call("POST", "/api/conversations", {
      token: a.authToken,
      body: { private: false, user_ids: [b.id, c.id, b.id, a.id], alias: "Besties 4eva" },
    });
    expect(res.status).toBe(201);
    const created = res.json as Created;
    expect(created.conversation).toEqual(conversationShape({ private: false, alias: "Besties 4eva" }));
    const byId = (x: { id: string }, y: { id: string }) => x.id.localeCompare(y.id);
    expect([...(created.users as { id: string }[])].sort(byId)).toEqual(
      [summary(a), summary(b), summary(c)].sort(byId),
    );
    const second = await createGroup(b, [c], "later");

    const list = await server.call("GET", "/api/conversations", { token: c.authToken });
    expect(list.status).toBe(200);
    expect((list.json as { conversations: { id: string }[] }).conversations.map((x) => x.id)).toEqual([
      second,
      created.conversation.id,
    ]);
    expect((await server.call("GET", "/api/conversations", { token: a.authToken })).json).toEqual({
      conversations: [created.conversation],
    });

    const login = (await server.call("POST", "/auth/login", { body: { email: a.email, password: PASSWORD } }))
      .json as {
      conversations: unknown[];
      users: { id: string }[];
    };
    expect(login.conversations).toEqual([created.conversation]);
    expect(login.users.map((u) => u.id).sort()).toEqual([a.id, b.id, c.id].sort());
  });
});

describe("GET /api/conversations/private/:user_id", () => {
  it("the pair's conversation id, or null", async () => {
    const [a, b, c] = [await register(server), await register(server), await register(server)];
    const made = (
      await server.call("POST", "/api/conversations", {
        token: a.authToken,
        body: { private: true, user_ids: [b.id] },
      })
    ).json as Created;
    const lookup = (token: string, id: string) =>
      server.call("GET", `/api/conversations/private/${id}`, { token });
    expect((await lookup(a.authToken, b.id)).json).toEqual({ conversation_id: made.conversation.id });
    expect((await lookup(b.authToken, a.id)).json).toEqual({ conversation_id: made.conversation.id });
    expect((await lookup(a.authToken, c.id)).json).toEqual({ conversation_id: null });
    expect((await lookup(a.authToken, a.id)).json).toEqual({ conversation_id: null });
    const bad = await lookup(a.authToken, "not-a-uuid");
    expect(bad.status).toBe(422);
    expect(bad.json).toEqual({ errors: { user_id: ["is invalid"] } });
  });
});

describe("members", () => {
  it("any member adds; new members are told; re-adding is a no-op", async () => {
    const [a, b, c, d] = [
      await register(server),
      await register(server),
      await register(server),
      await register(server),
    ];
    const id = await createGroup(a, [b]);
    const cEvents = await recordTopic(server.hub, `user:${c.id}`);
    const add = (who: Registered, ids: string[]) =>
      server.call("POST", `/api/conversations/${id}/members`, {
        token: who.authToken,
        body: { user_ids: ids },
      });
    expect((await add(c, [d.id])).status).toBe(403); // not a member
    expect((await add(b, ["00000000-0000-4000-8000-000000000000"])).json).toEqual({
      errors: { user_ids: ["contains unknown users"] },
    });
    expect((await add(b, [])).json).toEqual({ errors: { user_ids: ["should have at least 1 item(s)"] } });
    expect((await add(b, [c.id])).status).toBe(204);
    expect((await add(b, [c.id, a.id])).status).toBe(204);
    await expect.poll(() => cEvents.messages.length).toBe(1);
    expect(cEvents.messages[0]).toMatchObject({ event: "conversation_added" });
    expect(
      (await server.call("GET", `/api/messages?conversation_id=${id}`, { token: c.authToken })).status,
    ).toBe(200);
    const missing = await server.call(
      "POST",
      "/api/conversations/00000000-0000-4000-8000-000000000000/members",
      {
        token: a.authToken,
        body: { user_ids: [d.id] },
      },
    );
    expect(missing.status).toBe(404);
    await cEvents.stop();
  });

  it("any member removes; yourself = leave; the removed member loses access and keys", async () => {
    const [a, b, c] = [await register(server), await register(server), await register(server)];
    const id = await createGroup(a, [b, c]);
    await server.call("PUT", `/api/conversations/${id}/keys`, {
      token: c.authToken,
      body: { public_key: "pc", private_key: "sc" },
    });
    const cEvents = await recordTopic(server.hub, `user:${c.id}`);
    const aEvents = await recordTopic(server.hub, `user:${a.id}`);
    const remove = (who: Registered, target: string) =>
      server.call("DELETE", `/api/conversations/${id}/members/${target}`, { token: who.authToken });
    expect((await remove(a, c.id)).status).toBe(204);
    await expect
      .poll(() => cEvents.messages)
      .toEqual([
        {
          kind: "broadcast",
          topic: `user:${c.id}`,
          event: "conversation_removed",
          payload: JSON.stringify({ conversation_id: id }),
        },
      ]);
    expect(
      (await server.call("GET", `/api/messages?conversation_id=${id}`, { token: c.authToken })).status,
    ).toBe(403);
    expect((await remove(c, a.id)).status).toBe(403);
    expect((await remove(a, c.id)).status).toBe(404);
    const keys = await server.database.db
      .select()
      .from(schema.encryptionKeys)
      .where(and(eq(schema.encryptionKeys.conversationId, id), eq(schema.encryptionKeys.userId, c.id)));
    expect(keys).toEqual([]);
    expect((await remove(a, a.id)).status).toBe(204); // leave
    expect((await server.call("GET", "/api/conversations", { token: a.authToken })).json).toEqual({
      conversations: [],
    });
    expect(aEvents.messages).toEqual([]);
    await Promise.all([cEvents.stop(), aEvents.stop()]);
  });

  it("private conversations have fixed members", async () => {
    const [a, b, c] = [await register(server), await register(server), await register(server)];
    const id = (
      (
        await server.call("POST", "/api/conversations", {
          token: a.authToken,
          body: { private: true, user_ids: [b.id] },
        })
      ).json as Created
    ).conversation.id;
    const add = await server.call("POST", `/api/conversations/${id}/members`, {
      token: a.authToken,
      body: { user_ids: [c.id] },
    });
    expect(add.status).toBe(403);
    expect(add.json).toEqual({ errors: { detail: "Private conversations cannot change members" } });
    expect(
      (await server.call("DELETE", `/api/conversations/${id}/members/${b.id}`, { token: a.authToken }))
        .status,
    ).toBe(403);
  });
});

describe("keys", () => {
  it("stored sealed, read back by members: everyone's public key, only your own private key", async () => {
    const [a, b, c] = [await register(server), await register(server), await register(server)];
    const id = await createGroup(a, [b]);
    const convEvents = await recordTopic(server.hub, `conversation:${id}`);
    const put = (who: Registered, body: unknown) =>
      server.call("PUT", `/api/conversations/${id}/keys`, { token: who.authToken, body });
    const get = (who: Registered) =>
      server.call("GET", `/api/conversations/${id}/keys`, { token: who.authToken });

    expect((await get(a)).json).toEqual({ public_keys: [], private_key: null });
    expect((await put(a, { public_key: "PUBLIC-A", private_key: "PRIVATE-A" })).status).toBe(204);
    await expect
      .poll(() => convEvents.messages)
      .toEqual([
        {
          kind: "broadcast",
          topic: `conversation:${id}`,
          event: "keys_uploaded",
          payload: JSON.stringify({ user_id: a.id }),
        },
      ]);
    expect((await get(a)).json).toEqual({
      public_keys: [{ user_id: a.id, public_key: "PUBLIC-A" }],
      private_key: "PRIVATE-A",
    });
    expect((await get(b)).json).toEqual({
      public_keys: [{ user_id: a.id, public_key: "PUBLIC-A" }],
      private_key: null,
    });
    await put(b, { public_key: "PUBLIC-B", private_key: "PRIVATE-B" });
    await put(a, { public_key: "PUBLIC-A2", private_key: "PRIVATE-A2" }); // replace
    expect((await get(b)).json).toEqual({
      public_keys: [
        { user_id: a.id, public_key: "PUBLIC-A2" },
        { user_id: b.id, public_key: "PUBLIC-B" },
      ],
      private_key: "PRIVATE-B",
    });

    // At rest: ciphertext with the vault key id, never the plaintext.
    const rows = await server.database.db
      .select()
      .from(schema.encryptionKeys)
      .where(eq(schema.encryptionKeys.conversationId, id));
    for (const row of rows) {
      expect(row.vaultKeyId).toMatch(/^k[0-9a-f]{12}$/);
      expect(row.privateKey.toString("latin1")).not.toContain("PRIVATE");
      expect(row.publicKey.toString("latin1")).not.toContain("PUBLIC");
      expect(row.privateKey.subarray(2, 2 + row.vaultKeyId.length).toString("ascii")).toBe(row.vaultKeyId);
    }
    // Bound to its row: a's sealed private key copied into b's row does not open for b.
    const aRow = rows.find((r) => r.userId === a.id)!;
    await server.database.db
      .update(schema.encryptionKeys)
      .set({ privateKey: aRow.privateKey })
      .where(and(eq(schema.encryptionKeys.conversationId, id), eq(schema.encryptionKeys.userId, b.id)));
    expect(((await get(b)).json as { private_key: unknown }).private_key).toBeNull();

    expect((await get(c)).status).toBe(403);
    expect((await put(c, { public_key: "x", private_key: "y" })).status).toBe(403);
    expect(
      (
        await server.call("GET", "/api/conversations/00000000-0000-4000-8000-000000000000/keys", {
          token: a.authToken,
        })
      ).status,
    ).toBe(404);
    await convEvents.stop();
  });

  it("validates sizes: 422 per key, 413 past the body limit", async () => {
    const [a, b] = [await register(server), await register(server)];
    const id = await createGroup(a, [b]);
    const put = (body: unknown) =>
      server.call("PUT", `/api/conversations/${id}/keys`, { token: a.authToken, body });
    expect((await put({ public_key: "", private_key: "k" })).json).toEqual({
      errors: { public_key: ["can't be blank"] },
    });
    expect((await put({ public_key: "k".repeat(65_537), private_key: "k" })).json).toEqual({
      errors: { public_key: ["should be at most 65536 character(s)"] },
    });
    expect((await put({ public_key: "k".repeat(60_000), private_key: "k".repeat(60_000) })).status).toBe(204);
    expect((await put({ public_key: "k".repeat(200_000), private_key: "k".repeat(200_000) })).status).toBe(
      413,
    );
  });
});
