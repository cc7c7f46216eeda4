/**
 * @module
 * One suite for every database the product runs on: real Postgres (db.int.test.ts) and
 * embedded PGlite (db-pglite.test.ts). Each case starts from an empty, freshly migrated database.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "./client.js";
import { createPageTokens } from "./page-token.js";
import {
  conversationRecipients,
  deleteMessageGroup,
  groupsBySeq,
  updateMessageGroup,
} from "./queries/message-groups.js";
import { appendMessageGroup, listMessagesPage } from "./queries/messages.js";
import { listUsersPage } from "./queries/users.js";
import {
  conversationMembers,
  conversations,
  encryptionKeys,
  messageGroups,
  messages,
  profiles,
  tokens,
  users,
} from "./schema.js";

export interface DatabaseFixture {
  /** A handle on an empty database with no tables yet. */
  handle: DbHandle;
  dispose(): Promise<void>;
}

const pageTokens = createPageTokens("test-page-token-key-0123456789");

/** Postgres reports constraint violations as a `cause` (drizzle wraps driver errors). */
async function violation(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const err = e as {
      cause?: { constraint_name?: string; constraint?: string; message?: string };
      message?: string;
    };
    const c = err.cause ?? {};
    return c.constraint_name ?? c.constraint ?? c.message ?? err.message ?? String(e);
  }
  throw new Error("expected the database to reject this write");
}

export function describeDatabase(name: string, make: () => Promise<DatabaseFixture>): void {
  describe(`database: ${name}`, () => {
    let fx: DatabaseFixture;
    let db: DbHandle["db"];

    beforeAll(async () => {
      fx = await make();
      await fx.handle.migrate();
      db = fx.handle.db;
    }, 120_000);
    afterAll(async () => {
      await fx?.dispose();
    });

    const newUser = async (email = `${randomUUID()}@example.com`) => {
      const [u] = await db.insert(users).values({ email, displayName: email, passwordHash: "x" }).returning();
      await db.insert(profiles).values({ userId: u!.id });
      return u!;
    };
    const newGroupConversation = async (memberIds: string[]) => {
      const [c] = await db.insert(conversations).values({ private: false, alias: "g" }).returning();
      await db
        .insert(conversationMembers)
        .values(memberIds.map((userId) => ({ conversationId: c!.id, userId })));
      return c!;
    };

    it("migrates idempotently", async () => {
      await fx.handle.migrate();
      await fx.handle.migrate();
      expect(await fx.handle.ping()).toBe(true);
    });

    it("round-trips a row through every table", async () => {
      const a = await newUser();
      const b = await newUser();
      const [profile] = await db
        .update(profiles)
        .set({ theme: "night", magnification: 1.4, recents: ["/chat/x", "/chat/y"] })
        .where(sql`${profiles.userId} = ${a.id}`)
        .returning();
      expect(profile).toMatchObject({
        hidden: false,
        theme: "night",
        magnification: 1.4,
        recents: ["/chat/x", "/chat/y"],
      });
      expect(a.insertedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      expect(a.tokensValidAfter).toBe("-infinity");

      const [tok] = await db
        .insert(tokens)
        .values({
          userId: a.id,
          kind: "refresh",
          tokenHash: Buffer.alloc(32, 1),
          familyId: randomUUID(),
          expiresAt: "2099-01-01T00:00:00Z",
        })
        .returning();
      expect(Buffer.compare(tok!.tokenHash, Buffer.alloc(32, 1))).toBe(0);
      expect(tok!.expiresAt).toBe("2099-01-01T00:00:00.000000Z");

      const [low, high] = [a.id, b.id].sort();
      const [conv] = await db
        .insert(conversations)
        .values({ private: true, pairLow: low, pairHigh: high })
        .returning();
      await db.insert(conversationMembers).values([
        { conversationId: conv!.id, userId: a.id },
        { conversationId: conv!.id, userId: b.id },
      ]);
      await db.insert(encryptionKeys).values({
        conversationId: conv!.id,
        userId: a.id,
        publicKey: Buffer.from([1, 2, 3]),
        privateKey: Buffer.from([4, 5, 6]),
        vaultKeyId: "k1",
      });
      const [key] = await db.select().from(encryptionKeys);
      expect([...key!.privateKey]).toEqual([4, 5, 6]);

      const sent = await appendMessageGroup(db, {
        conversationId: conv!.id,
        senderId: a.id,
        contents: [
          { recipientId: a.id, content: "cipher-for-a" },
          { recipientId: b.id, content: "cipher-for-b" },
        ],
      });
      expect(sent.seq).toBe(1);
      expect(sent.messages).toHaveLength(2);
      const groups = await db.select().from(messageGroups);
      expect(groups).toHaveLength(1);
      const stored = await db.select().from(messages);
      expect(stored.map((m) => m.content).sort()).toEqual(["cipher-for-a", "cipher-for-b"]);

      const chat = await appendMessageGroup(db, {
        conversationId: conv!.id,
        senderId: b.id,
        contents: [{ recipientId: null, content: { text: "hello" } }],
      });
      expect(chat.seq).toBe(2);
      expect(chat.messages[0]!.content).toEqual({ text: "hello" });
    });

    it("rejects the same email in other letter case", async () => {
      await newUser("Case@Example.com");
      expect(await violation(newUser("case@EXAMPLE.COM"))).toMatch(/users_email_lower_key/);
    });

    it("rejects magnification outside 0.7–1.4 and unknown themes", async () => {
      const u = await newUser();
      const where = sql`${profiles.userId} = ${u.id}`;
      expect(await violation(db.update(profiles).set({ magnification: 2.0 }).where(where))).toMatch(
        /profiles_magnification/,
      );
      expect(await violation(db.update(profiles).set({ magnification: 0.69 }).where(where))).toMatch(
        /profiles_magnification/,
      );
      expect(await violation(db.update(profiles).set({ theme: "blue" }).where(where))).toMatch(
        /profiles_theme/,
      );
      await db.update(profiles).set({ magnification: 0.7 }).where(where);
    });

    it("rejects a second private conversation between the same pair", async () => {
      const [low, high] = [(await newUser()).id, (await newUser()).id].sort();
      await db.insert(conversations).values({ private: true, pairLow: low, pairHigh: high });
      expect(
        await violation(db.insert(conversations).values({ private: true, pairLow: low, pairHigh: high })),
      ).toMatch(/conversations_private_pair_key/);
      // Out of order, or a private conversation without its pair, is refused too.
      expect(
        await violation(db.insert(conversations).values({ private: true, pairLow: high, pairHigh: low })),
      ).toMatch(/conversations_private_pair/);
      expect(await violation(db.insert(conversations).values({ private: true }))).toMatch(
        /conversations_private_pair/,
      );
    });

    it("rejects a duplicate seq in one conversation", async () => {
      const u = await newUser();
      const c = await newGroupConversation([u.id]);
      await db.insert(messageGroups).values({ conversationId: c.id, senderId: u.id, seq: 1 });
      expect(
        await violation(db.insert(messageGroups).values({ conversationId: c.id, senderId: u.id, seq: 1 })),
      ).toMatch(/message_groups_conversation_seq_key/);
    });

    it("rejects keys for non-members and a second shared message in one group", async () => {
      const u = await newUser();
      const outsider = await newUser();
      const c = await newGroupConversation([u.id]);
      expect(
        await violation(
          db.insert(encryptionKeys).values({
            conversationId: c.id,
            userId: outsider.id,
            publicKey: Buffer.from("p"),
            privateKey: Buffer.from("q"),
            vaultKeyId: "k1",
          }),
        ),
      ).toMatch(/encryption_keys_member_fk/);
      const g = await appendMessageGroup(db, {
        conversationId: c.id,
        senderId: u.id,
        contents: [{ recipientId: null, content: { text: "a" } }],
      });
      expect(
        await violation(
          db.insert(messages).values({ groupId: g.groupId, recipientId: null, content: { text: "b" } }),
        ),
      ).toMatch(/messages_group_recipient_key/);
    });

    it("pages 1,000+ users newest first, each exactly once, stable when timestamps tie", async () => {
      const before = await listUsersPage(db, pageTokens, { pageSize: 1000 });
      const already = before.ok ? before.items.length : 0;
      // 1,050 users sharing 105 distinct timestamps: ten rows tie on every one.
      const rows = Array.from({ length: 1050 }, (_, i) => ({
        email: `page-${i}-${randomUUID()}@example.com`,
        displayName: `u${i}`,
        passwordHash: "x",
        insertedAt: new Date(Date.UTC(2030, 0, 1, 0, 0, Math.floor(i / 10)))
          .toISOString()
          .replace("Z", "123Z"),
      }));
      for (let i = 0; i < rows.length; i += 500) await db.insert(users).values(rows.slice(i, i + 500));

      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await listUsersPage(db, pageTokens, { pageSize: 37, pageToken: token });
        if (!page.ok) throw new Error(page.error);
        seen.push(...page.items.map((u) => u.id));
        pages++;
        if (page.pageToken === null) break;
        token = page.pageToken;
      }
      expect(seen.length).toBe(1050 + already);
      expect(new Set(seen).size).toBe(seen.length);
      expect(pages).toBe(Math.ceil(seen.length / 37));
      const all = await db
        .select({ id: users.id })
        .from(users)
        .orderBy(sql`${users.insertedAt} desc, ${users.id} desc`);
      expect(seen).toEqual(all.map((u) => u.id));
    });

    it("pages 1,000+ messages newest first by seq, each exactly once, only the caller's", async () => {
      const a = await newUser();
      const b = await newUser();
      const c = await newGroupConversation([a.id, b.id]);
      for (let i = 1; i <= 1020; i++) {
        await appendMessageGroup(db, {
          conversationId: c.id,
          senderId: i % 2 ? a.id : b.id,
          contents:
            i % 3 === 0
              ? [{ recipientId: null, content: { text: `m${i}` } }]
              : [
                  { recipientId: a.id, content: `for-a-${i}` },
                  { recipientId: b.id, content: `for-b-${i}` },
                ],
        });
      }
      const seqs: number[] = [];
      let token: string | undefined;
      for (;;) {
        const page = await listMessagesPage(db, pageTokens, {
          conversationId: c.id,
          userId: b.id,
          pageSize: 100,
          pageToken: token,
        });
        if (!page.ok) throw new Error(page.error);
        for (const m of page.items) {
          seqs.push(m.seq);
          expect(m.content === `for-b-${m.seq}` || (m.content as { text: string }).text === `m${m.seq}`).toBe(
            true,
          );
        }
        if (page.pageToken === null) break;
        token = page.pageToken;
      }
      expect(seqs).toEqual(Array.from({ length: 1020 }, (_, i) => 1020 - i));

      const inserted = await db
        .select({ seq: messageGroups.seq, at: messageGroups.insertedAt })
        .from(messageGroups)
        .where(sql`${messageGroups.conversationId} = ${c.id}`)
        .orderBy(messageGroups.seq);
      for (let i = 1; i < inserted.length; i++) expect(inserted[i]!.at >= inserted[i - 1]!.at).toBe(true);
    }, 120_000);

    it("refuses forged, foreign and garbage page tokens, and non-members", async () => {
      const a = await newUser();
      const outsider = await newUser();
      const c1 = await newGroupConversation([a.id]);
      const c2 = await newGroupConversation([a.id]);
      for (let i = 0; i < 3; i++) {
        await appendMessageGroup(db, {
          conversationId: c1.id,
          senderId: a.id,
          contents: [{ recipientId: null, content: { text: String(i) } }],
        });
      }
      const first = await listMessagesPage(db, pageTokens, {
        conversationId: c1.id,
        userId: a.id,
        pageSize: 1,
      });
      if (!first.ok || !first.pageToken) throw new Error("expected a next page");
      const good = first.pageToken;
      const [body, mac] = good.split(".") as [string, string];
      const forgedBody = Buffer.from(JSON.stringify([999])).toString("base64url");
      const bad = [
        `${forgedBody}.${mac}`,
        `${body}.${Buffer.alloc(16).toString("base64url")}`,
        "garbage",
        "",
        ".",
        "a".repeat(5000),
      ];
      for (const pageToken of bad) {
        expect(
          await listMessagesPage(db, pageTokens, {
            conversationId: c1.id,
            userId: a.id,
            pageSize: 1,
            pageToken,
          }),
        ).toEqual({ ok: false, error: "invalid_page_token" });
      }
      // A token from another conversation, or from the users listing, is foreign here.
      expect(
        await listMessagesPage(db, pageTokens, {
          conversationId: c2.id,
          userId: a.id,
          pageSize: 1,
          pageToken: good,
        }),
      ).toEqual({ ok: false, error: "invalid_page_token" });
      expect(await listUsersPage(db, pageTokens, { pageSize: 1, pageToken: good })).toEqual({
        ok: false,
        error: "invalid_page_token",
      });
      expect(
        await listMessagesPage(db, pageTokens, { conversationId: c1.id, userId: outsider.id, pageSize: 1 }),
      ).toEqual({
        ok: false,
        error: "not_member",
      });
    });

    it("keeps per-recipient message groups: recipients with keys, gap reads, sender-only update and delete", async () => {
      const [a, b, c] = [await newUser(), await newUser(), await newUser()];
      const conv = await newGroupConversation([a.id, b.id]);
      expect(
        (await conversationRecipients(db, conv.id)).sort((x, y) => x.userId.localeCompare(y.userId)),
      ).toEqual([a.id, b.id].sort().map((userId) => ({ userId, hasKeys: false })));
      await db.insert(encryptionKeys).values({
        conversationId: conv.id,
        userId: a.id,
        publicKey: Buffer.from("p"),
        privateKey: Buffer.from("q"),
        vaultKeyId: "k0",
      });
      expect((await conversationRecipients(db, conv.id)).find((r) => r.userId === a.id)?.hasKeys).toBe(true);

      const send = (tag: string) =>
        appendMessageGroup(db, {
          conversationId: conv.id,
          senderId: a.id,
          contents: [a.id, b.id].map((id) => ({ recipientId: id, content: `${tag}-${id}` })),
        });
      const first = await send("one");
      const second = await send("two");
      const groups = await groupsBySeq(db, conv.id, 1, 2);
      expect(groups.map((g) => [g.seq, g.senderId, g.copies.map((x) => x.content).sort()])).toEqual([
        [1, a.id, [`one-${a.id}`, `one-${b.id}`].sort()],
        [2, a.id, [`two-${a.id}`, `two-${b.id}`].sort()],
      ]);

      const contents = (tag: string, ids: string[]) => new Map(ids.map((id) => [id, `${tag}-${id}`]));
      const byB = await updateMessageGroup(db, {
        conversationId: conv.id,
        groupId: first.groupId,
        senderId: b.id,
        contents: contents("x", [a.id, b.id]),
      });
      expect(byB).toEqual({ ok: false, error: "not_sender" });
      const wrongSet = await updateMessageGroup(db, {
        conversationId: conv.id,
        groupId: first.groupId,
        senderId: a.id,
        contents: contents("x", [a.id, c.id]),
      });
      expect(wrongSet).toEqual({ ok: false, error: "recipients_mismatch" });
      const elsewhere = await updateMessageGroup(db, {
        conversationId: (await newGroupConversation([a.id])).id,
        groupId: first.groupId,
        senderId: a.id,
        contents: contents("x", [a.id, b.id]),
      });
      expect(elsewhere).toEqual({ ok: false, error: "not_found" });
      const edited = await updateMessageGroup(db, {
        conversationId: conv.id,
        groupId: first.groupId,
        senderId: a.id,
        contents: contents("edited", [a.id, b.id]),
      });
      if (!edited.ok) throw new Error(edited.error);
      expect(edited.group.seq).toBe(1);
      expect(edited.group.copies.map((x) => x.content).sort()).toEqual(
        [`edited-${a.id}`, `edited-${b.id}`].sort(),
      );
      expect(edited.group.updatedAt > edited.group.insertedAt).toBe(true);

      expect(
        await deleteMessageGroup(db, { conversationId: conv.id, groupId: second.groupId, senderId: b.id }),
      ).toEqual({
        ok: false,
        error: "not_sender",
      });
      expect(
        await deleteMessageGroup(db, { conversationId: conv.id, groupId: second.groupId, senderId: a.id }),
      ).toEqual({
        ok: true,
        seq: 2,
      });
      expect(
        await deleteMessageGroup(db, { conversationId: conv.id, groupId: second.groupId, senderId: a.id }),
      ).toEqual({
        ok: false,
        error: "not_found",
      });
      // The tombstone keeps seq 2 taken; its ciphertexts are gone; gap reads skip it.
      expect((await groupsBySeq(db, conv.id, 1, 2)).map((g) => g.seq)).toEqual([1]);
      const left = await db.select().from(messages).where(sql`${messages.groupId} = ${second.groupId}`);
      expect(left).toEqual([]);
      expect((await send("three")).seq).toBe(3);
      const page = await listMessagesPage(db, pageTokens, {
        conversationId: conv.id,
        userId: b.id,
        pageSize: 10,
      });
      expect(page.ok && page.items.map((i) => [i.seq, i.content])).toEqual([
        [3, `three-${b.id}`],
        [1, `edited-${b.id}`],
      ]);
    });
  });
}
