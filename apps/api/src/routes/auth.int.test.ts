/**
 * /auth/*: register, login, refresh (rotation and reuse), email confirmation and password
 * reset read from real emails, against real Postgres and a real SMTP server.
 */
import { schema } from "@nexus/db";
import { createTestDatabase, type TestDatabase } from "@nexus/testkit";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { USERS_CONTROL_TOPIC } from "../services/events.js";
import { type ApiServer, recordTopic, startApiServer, TEST_FRONTEND_URL } from "../testing/api-server.js";
import {
  JWT_RE,
  jwtPayload,
  PASSWORD,
  REFRESH_RE,
  register,
  sleep,
  UUID_RE,
  uniqueEmail,
} from "../testing/fixtures.js";
import { type SmtpSink, startSmtpSink, tokenIn } from "../testing/smtp-sink.js";

let tdb: TestDatabase;
let smtp: SmtpSink;
let server: ApiServer;

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  smtp = await startSmtpSink();
  server = await startApiServer({ databaseUrl: tdb.url, smtpUrl: smtp.url });
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
  await tdb?.drop();
});

const mailTo = (email: string, subject: RegExp) =>
  smtp.waitFor((m) => m.to.includes(email) && subject.test(m.subject));

describe("POST /auth/register", () => {
  it("201 with the user (profile defaults), no conversations, and both tokens", async () => {
    const email = uniqueEmail("Reg");
    const res = await server.call("POST", "/auth/register", { body: { email, password: PASSWORD } });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      user: {
        id: expect.stringMatching(UUID_RE),
        email,
        display_name: email,
        hidden: false,
        theme: "day",
        magnification: 1,
        recents: [],
      },
      conversations: [],
      users: [],
      auth_token: expect.stringMatching(JWT_RE),
      refresh_token: expect.stringMatching(REFRESH_RE),
    });
    const body = res.json as { user: { id: string }; auth_token: string };
    const claims = jwtPayload(body.auth_token);
    expect(claims).toMatchObject({ sub: body.user.id, token_use: "access" });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(1800);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("keeps a given display name (trimmed)", async () => {
    const res = await server.call("POST", "/auth/register", {
      body: { email: uniqueEmail(), password: PASSWORD, display_name: "  My Cool Name " },
    });
    expect(res.status).toBe(201);
    expect((res.json as { user: { display_name: string } }).user.display_name).toBe("My Cool Name");
  });

  it("mails a confirmation link that confirms the address once", async () => {
    const { email, id } = await register(server);
    const mail = await mailTo(email, /confirm/i);
    expect(mail.text).toContain(`${TEST_FRONTEND_URL}/confirm-email?token=`);
    expect(mail.raw).toMatch(/^From: nexus@example\.test\r?$/m);
    const token = tokenIn(mail);
    const confirmed = async () =>
      (
        await server.database.db
          .select({ at: schema.users.emailConfirmedAt })
          .from(schema.users)
          .where(eq(schema.users.id, id))
      )[0]?.at;
    expect(await confirmed()).toBeNull();
    const res = await server.call("POST", "/auth/confirm", { body: { token } });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(await confirmed()).toMatch(/Z$/);
    const again = await server.call("POST", "/auth/confirm", { body: { token } });
    expect(again.status).toBe(422);
    expect(again.json).toEqual({ errors: { token: ["is invalid or has expired"] } });
  });

  it("422 in the Ecto shape for every invalid field", async () => {
    const cases: [unknown, Record<string, string[]>][] = [
      [{}, { email: ["can't be blank"], password: ["can't be blank"] }],
      [{ email: "nope", password: PASSWORD }, { email: ["has invalid format"] }],
      [{ email: 42, password: PASSWORD }, { email: ["is invalid"] }],
      [{ email: uniqueEmail(), password: "short" }, { password: ["should be at least 12 character(s)"] }],
      [
        { email: uniqueEmail(), password: "aaaaaaaaaaaaaaaa" },
        { password: ["is too common or easy to guess"] },
      ],
      [
        { email: uniqueEmail(), password: PASSWORD, display_name: "x".repeat(201) },
        { display_name: ["should be at most 200 character(s)"] },
      ],
      [
        { email: uniqueEmail(), password: PASSWORD, display_name: "   " },
        { display_name: ["can't be blank"] },
      ],
      [[1, 2], { body: ["is invalid"] }],
    ];
    for (const [body, errors] of cases) {
      const res = await server.call("POST", "/auth/register", { body });
      expect({ body, status: res.status, json: res.json }).toEqual({ body, status: 422, json: { errors } });
    }
  });

  it("refuses a password equal to the email", async () => {
    const email = "samesame-long@example.com";
    const res = await server.call("POST", "/auth/register", { body: { email, password: email } });
    expect(res.json).toEqual({ errors: { password: ["must not be the same as your email"] } });
  });

  it("409 for a taken email, in any letter case", async () => {
    const { email } = await register(server);
    const res = await server.call("POST", "/auth/register", {
      body: { email: email.toUpperCase(), password: PASSWORD },
    });
    expect(res.status).toBe(409);
    expect(res.json).toEqual({ errors: { email: ["has already been taken"] } });
  });

  it("400 for malformed JSON, 413 for a body over the limit", async () => {
    const bad = await server.call("POST", "/auth/register", { rawBody: '{"email": ' });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ errors: { detail: "Malformed JSON body" } });
    const big = await server.call("POST", "/auth/register", {
      body: { email: uniqueEmail(), password: PASSWORD, display_name: "x".repeat(70_000) },
    });
    expect(big.status).toBe(413);
    expect(big.json).toEqual({ errors: { detail: "Payload Too Large" } });
  });
});

describe("POST /auth/login", () => {
  it("200 with the same shape as register; the email matches in any case", async () => {
    const { email, id } = await register(server);
    const res = await server.call("POST", "/auth/login", {
      body: { email: email.toUpperCase(), password: PASSWORD },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      user: { id, email, display_name: email, hidden: false, theme: "day", magnification: 1, recents: [] },
      conversations: [],
      users: [],
      auth_token: expect.stringMatching(JWT_RE),
      refresh_token: expect.stringMatching(REFRESH_RE),
    });
    const token = (res.json as { auth_token: string }).auth_token;
    expect((await server.call("GET", "/api/conversations", { token })).status).toBe(200);
  });

  it("401 for a wrong password and for an unknown email, with one answer for both", async () => {
    const { email } = await register(server);
    const wrong = await server.call("POST", "/auth/login", { body: { email, password: `${PASSWORD}!` } });
    const unknown = await server.call("POST", "/auth/login", {
      body: { email: uniqueEmail(), password: PASSWORD },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json).toEqual({ errors: { detail: "Invalid email or password" } });
    expect(unknown.json).toEqual(wrong.json);
  });

  it("422 when a field is missing", async () => {
    const res = await server.call("POST", "/auth/login", { body: { email: "a@b.c" } });
    expect(res.status).toBe(422);
    expect(res.json).toEqual({ errors: { password: ["can't be blank"] } });
  });
});

describe("POST /auth/refresh", () => {
  it("rotates: new tokens each time, the old refresh token is spent", async () => {
    const user = await register(server);
    const first = await server.call("POST", "/auth/refresh", { body: { token: user.refreshToken } });
    expect(first.status).toBe(200);
    const next = first.json as { user: { id: string }; auth_token: string; refresh_token: string };
    expect(next.user.id).toBe(user.id);
    expect(next.refresh_token).toMatch(REFRESH_RE);
    expect(next.refresh_token).not.toBe(user.refreshToken);
    const second = await server.call("POST", "/auth/refresh", { body: { token: next.refresh_token } });
    expect(second.status).toBe(200);
  });

  it("reuse of a spent token revokes the whole family, and only that family", async () => {
    const user = await register(server);
    const otherLogin = (
      await server.call("POST", "/auth/login", { body: { email: user.email, password: PASSWORD } })
    ).json as { refresh_token: string };
    const rotated = (await server.call("POST", "/auth/refresh", { body: { token: user.refreshToken } }))
      .json as {
      refresh_token: string;
    };
    const replay = await server.call("POST", "/auth/refresh", { body: { token: user.refreshToken } });
    expect(replay.status).toBe(401);
    expect(replay.json).toEqual({ errors: { detail: "Invalid refresh token" } });
    // The thief's replay also killed the legitimate successor…
    expect(
      (await server.call("POST", "/auth/refresh", { body: { token: rotated.refresh_token } })).status,
    ).toBe(401);
    // …but not the user's other session.
    expect(
      (await server.call("POST", "/auth/refresh", { body: { token: otherLogin.refresh_token } })).status,
    ).toBe(200);
  });

  it("401 for an expired, unknown or malformed token; 422 without one", async () => {
    const user = await register(server);
    await server.database.db
      .update(schema.tokens)
      .set({ expiresAt: sql`clock_timestamp() - interval '1 second'` })
      .where(eq(schema.tokens.userId, user.id));
    for (const token of [user.refreshToken, "A".repeat(43), "short", user.authToken]) {
      expect((await server.call("POST", "/auth/refresh", { body: { token } })).status).toBe(401);
    }
    expect((await server.call("POST", "/auth/refresh", { body: {} })).json).toEqual({
      errors: { token: ["can't be blank"] },
    });
  });

  it("a refresh token cannot stand in for an emailed token, nor the reverse", async () => {
    const user = await register(server);
    const confirmToken = tokenIn(await mailTo(user.email, /confirm/i));
    expect((await server.call("POST", "/auth/refresh", { body: { token: confirmToken } })).status).toBe(401);
    expect((await server.call("POST", "/auth/confirm", { body: { token: user.refreshToken } })).status).toBe(
      422,
    );
    expect(
      (await server.call("POST", "/auth/password/confirm", { body: { token: confirmToken } })).status,
    ).toBe(422);
  });
});

describe("password reset", () => {
  it("request → mail → confirm → reset: new password works, every old token is dead, sockets are told", async () => {
    const user = await register(server);
    const control = await recordTopic(server.hub, USERS_CONTROL_TOPIC);
    const request = await server.call("POST", "/auth/password/request", {
      body: { email: user.email.toUpperCase() },
    });
    expect(request.status).toBe(204);
    const mail = await mailTo(user.email, /reset/i);
    expect(mail.text).toContain(`${TEST_FRONTEND_URL}/reset-password?token=`);
    const token = tokenIn(mail);

    const confirm = await server.call("POST", "/auth/password/confirm", { body: { token } });
    expect(confirm.status).toBe(200);
    expect(confirm.json).toEqual({
      success: true,
      user: { id: user.id, email: user.email, display_name: user.email },
    });

    const mismatch = await server.call("POST", "/auth/password/reset", {
      body: {
        token,
        new_password: "a brand new passphrase",
        new_password_confirmation: "something else entirely",
      },
    });
    expect(mismatch.status).toBe(422);
    expect(mismatch.json).toEqual({ errors: { new_password_confirmation: ["does not match confirmation"] } });
    const weak = await server.call("POST", "/auth/password/reset", {
      body: { token, new_password: "short", new_password_confirmation: "short" },
    });
    expect(weak.json).toEqual({ errors: { new_password: ["should be at least 12 character(s)"] } });

    const newPassword = "a brand new passphrase";
    const reset = await server.call("POST", "/auth/password/reset", {
      // The seed's "current password" field is accepted and ignored.
      body: {
        token,
        password: "whatever",
        new_password: newPassword,
        new_password_confirmation: newPassword,
      },
    });
    expect(reset.status).toBe(204);

    expect(
      (await server.call("POST", "/auth/login", { body: { email: user.email, password: PASSWORD } })).status,
    ).toBe(401);
    expect(
      (await server.call("POST", "/auth/login", { body: { email: user.email, password: newPassword } }))
        .status,
    ).toBe(200);
    expect((await server.call("POST", "/auth/refresh", { body: { token: user.refreshToken } })).status).toBe(
      401,
    );
    expect((await server.call("GET", "/api/conversations", { token: user.authToken })).status).toBe(401);
    const reuse = await server.call("POST", "/auth/password/reset", {
      body: {
        token,
        new_password: "yet another passphrase",
        new_password_confirmation: "yet another passphrase",
      },
    });
    expect(reuse.status).toBe(422);
    expect(reuse.json).toEqual({ errors: { token: ["is invalid or has expired"] } });
    await expect
      .poll(() => control.messages)
      .toContainEqual({
        kind: "control",
        topic: USERS_CONTROL_TOPIC,
        action: "disconnect_user",
        data: user.id,
      });
    await control.stop();
  });

  it("204 for an unknown email, and nothing is sent", async () => {
    const email = uniqueEmail("ghost");
    const res = await server.call("POST", "/auth/password/request", { body: { email } });
    expect(res.status).toBe(204);
    await sleep(300);
    expect(smtp.received.some((m) => m.to.includes(email))).toBe(false);
  });

  it("a newer reset link voids the older one", async () => {
    const user = await register(server);
    await server.call("POST", "/auth/password/request", { body: { email: user.email } });
    const first = tokenIn(await mailTo(user.email, /reset/i));
    await server.call("POST", "/auth/password/request", { body: { email: user.email } });
    const second = tokenIn(
      await smtp.waitFor(
        (m) => m.to.includes(user.email) && /reset/i.test(m.subject) && !m.text.includes(first),
      ),
    );
    expect((await server.call("POST", "/auth/password/confirm", { body: { token: first } })).status).toBe(
      422,
    );
    expect((await server.call("POST", "/auth/password/confirm", { body: { token: second } })).status).toBe(
      200,
    );
  });
});

describe("routing and logs", () => {
  it("404 and 405 are JSON", async () => {
    const missing = await server.call("GET", "/api/nope");
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ errors: { detail: "Not Found" } });
    const wrong = await server.call("GET", "/auth/login");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
  });

  it("never logs a password or a token", async () => {
    const user = await register(server);
    await server.call("POST", "/auth/refresh", { body: { token: user.refreshToken } });
    const all = server.logLines.join("\n");
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(user.refreshToken);
    expect(all).not.toContain(user.authToken);
  });
});
