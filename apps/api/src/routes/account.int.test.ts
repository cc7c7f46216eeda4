/**
 * /api/* account endpoints: bearer auth, sign out everywhere (across two api nodes), the
 * confirmation and email-change mails and flows, password change, profile.
 */
import { createHmac } from "node:crypto";
import { createTestDatabase, type TestDatabase } from "@nexus/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { USERS_CONTROL_TOPIC } from "../services/events.js";
import {
  type ApiServer,
  recordTopic,
  startApiServer,
  TEST_FRONTEND_URL,
  TEST_JWT_SECRET,
} from "../testing/api-server.js";
import { PASSWORD, register, sleep, uniqueEmail } from "../testing/fixtures.js";
import { type SmtpSink, startSmtpSink, tokenIn } from "../testing/smtp-sink.js";

let tdb: TestDatabase;
let smtp: SmtpSink;
let server: ApiServer;
let other: ApiServer; // a second api node on the same bus and database

beforeAll(async () => {
  tdb = await createTestDatabase(inject("pgAdminUrl"));
  smtp = await startSmtpSink();
  server = await startApiServer({ databaseUrl: tdb.url, smtpUrl: smtp.url });
  other = await startApiServer({ databaseUrl: tdb.url, smtpUrl: smtp.url, hub: server.hub });
});
afterAll(async () => {
  await other?.close();
  await server?.close();
  await smtp?.close();
  await tdb?.drop();
});

const mailTo = (email: string, subject: RegExp, not?: string) =>
  smtp.waitFor(
    (m) => m.to.includes(email) && subject.test(m.subject) && (not === undefined || !m.text.includes(not)),
  );

function hs256(payload: Record<string, unknown>, secret = TEST_JWT_SECRET, alg = "HS256"): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const input = `${b64({ alg, typ: "JWT" })}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

describe("bearer auth on /api/*", () => {
  it("401 with WWW-Authenticate for anything but a live access token", async () => {
    const user = await register(server);
    const now = Math.floor(Date.now() / 1000);
    const bad: Record<string, string>[] = [
      {},
      { authorization: "Bearer" },
      { authorization: "Bearer garbage" },
      { authorization: `Basic ${user.authToken}` },
      { authorization: `Bearer ${user.refreshToken}` },
      { authorization: `Bearer ${hs256({ sub: user.id, exp: now - 60 })}` },
      {
        authorization: `Bearer ${hs256({ sub: user.id, exp: now + 60 }, "another-secret-of-at-least-32-bytes!!")}`,
      },
      { authorization: `Bearer ${hs256({ sub: user.id, exp: now + 60, token_use: "refresh" })}` },
      { authorization: `Bearer ${hs256({ sub: "alice", exp: now + 60 })}` },
    ];
    for (const headers of bad) {
      const res = await server.call("GET", "/api/conversations", { headers });
      expect({ headers, status: res.status }).toEqual({ headers, status: 401 });
      expect(res.json).toEqual({ errors: { detail: "Unauthorized" } });
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
    const ok = await server.call("GET", "/api/conversations", {
      headers: { authorization: `bearer ${user.authToken}` },
    });
    expect(ok.status).toBe(200);
    // A token minted by another backend with the shared secret (seed 004) is accepted too.
    const external = hs256({ sub: user.id.toUpperCase(), exp: now + 60 });
    expect((await server.call("GET", "/api/conversations", { token: external })).status).toBe(200);
  });
});

describe("POST /api/signout_all", () => {
  it("revokes every refresh token and auth token, on every node, and tells the gateways", async () => {
    const user = await register(server);
    const second = (
      await server.call("POST", "/auth/login", { body: { email: user.email, password: PASSWORD } })
    ).json as {
      auth_token: string;
      refresh_token: string;
    };
    // The other node has seen (and cached) this user's token as valid.
    expect((await other.call("GET", "/api/conversations", { token: second.auth_token })).status).toBe(200);
    const control = await recordTopic(server.hub, USERS_CONTROL_TOPIC);
    const userEvents = await recordTopic(server.hub, `user:${user.id}`);

    const res = await server.call("POST", "/api/signout_all", { token: user.authToken });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");

    for (const token of [user.refreshToken, second.refresh_token]) {
      expect((await server.call("POST", "/auth/refresh", { body: { token } })).status).toBe(401);
    }
    for (const token of [user.authToken, second.auth_token]) {
      expect((await server.call("GET", "/api/conversations", { token })).status).toBe(401);
    }
    await expect
      .poll(async () => (await other.call("GET", "/api/conversations", { token: second.auth_token })).status)
      .toBe(401);
    await expect
      .poll(() => control.messages)
      .toEqual([{ kind: "control", topic: USERS_CONTROL_TOPIC, action: "disconnect_user", data: user.id }]);
    expect(userEvents.messages).toEqual([
      {
        kind: "broadcast",
        topic: `user:${user.id}`,
        event: "signed_out",
        payload: '{"reason":"signout_all"}',
      },
    ]);

    // Signing in again right away (same second) gives a working token.
    const again = (
      await server.call("POST", "/auth/login", { body: { email: user.email, password: PASSWORD } })
    ).json as {
      auth_token: string;
    };
    expect((await server.call("GET", "/api/conversations", { token: again.auth_token })).status).toBe(200);
    expect((await other.call("GET", "/api/conversations", { token: again.auth_token })).status).toBe(200);
    await control.stop();
    await userEvents.stop();
  });
});

describe("POST /api/token/email_confirm", () => {
  it("mails a fresh link that voids the previous one; nothing once confirmed", async () => {
    const user = await register(server);
    const first = tokenIn(await mailTo(user.email, /confirm/i));
    expect((await server.call("POST", "/api/token/email_confirm", { token: user.authToken })).status).toBe(
      204,
    );
    const second = tokenIn(await mailTo(user.email, /confirm/i, first));
    expect((await server.call("POST", "/auth/confirm", { body: { token: first } })).status).toBe(422);
    expect((await server.call("POST", "/auth/confirm", { body: { token: second } })).status).toBe(204);
    const before = smtp.received.length;
    expect((await server.call("POST", "/api/token/email_confirm", { token: user.authToken })).status).toBe(
      204,
    );
    await sleep(300);
    expect(smtp.received.slice(before).some((m) => m.to.includes(user.email))).toBe(false);
  });
});

describe("email change", () => {
  it("token to the current address → PATCH /api/email → sign in with the new one → confirm it", async () => {
    const user = await register(server);
    expect((await server.call("POST", "/api/token/email_change", { token: user.authToken })).status).toBe(
      204,
    );
    const mail = await mailTo(user.email, /change/i);
    expect(mail.text).toContain(`${TEST_FRONTEND_URL}/change-email?token=`);
    const token = tokenIn(mail);
    const newEmail = uniqueEmail("moved");
    const taken = await register(server);

    const cases: [Record<string, unknown>, number, unknown][] = [
      [
        { token, email: newEmail, password: "not my password!" },
        422,
        { errors: { password: ["is not valid"] } },
      ],
      [
        { token, email: user.email.toUpperCase(), password: PASSWORD },
        422,
        { errors: { email: ["did not change"] } },
      ],
      [{ token, email: "nope", password: PASSWORD }, 422, { errors: { email: ["has invalid format"] } }],
      [
        { token: "A".repeat(43), email: newEmail, password: PASSWORD },
        422,
        { errors: { token: ["is invalid or has expired"] } },
      ],
      // A taken address is refused without using the token up.
      [
        { token, email: taken.email, password: PASSWORD },
        409,
        { errors: { email: ["has already been taken"] } },
      ],
    ];
    for (const [body, status, json] of cases) {
      const res = await server.call("PATCH", "/api/email", { token: user.authToken, body });
      expect({ body, status: res.status, json: res.json }).toEqual({ body, status, json });
    }
    // Someone else's token does not work for this user.
    expect(
      (
        await server.call("PATCH", "/api/email", {
          token: taken.authToken,
          body: { token, email: newEmail, password: PASSWORD },
        })
      ).status,
    ).toBe(422);

    const res = await server.call("PATCH", "/api/email", {
      token: user.authToken,
      body: { token, email: newEmail, password: PASSWORD },
    });
    expect(res.status).toBe(204);
    expect(
      (
        await server.call("PATCH", "/api/email", {
          token: user.authToken,
          body: { token, email: uniqueEmail(), password: PASSWORD },
        })
      ).status,
    ).toBe(422);
    expect(
      (await server.call("POST", "/auth/login", { body: { email: user.email, password: PASSWORD } })).status,
    ).toBe(401);
    const login = await server.call("POST", "/auth/login", { body: { email: newEmail, password: PASSWORD } });
    expect(login.status).toBe(200);
    expect((login.json as { user: { email: string } }).user.email).toBe(newEmail);
    const confirm = tokenIn(await mailTo(newEmail, /confirm/i));
    expect((await server.call("POST", "/auth/confirm", { body: { token: confirm } })).status).toBe(204);
  });

  it("a reset link mailed to the old address stops working after the change", async () => {
    const user = await register(server);
    await server.call("POST", "/auth/password/request", { body: { email: user.email } });
    const reset = tokenIn(await mailTo(user.email, /reset/i));
    await server.call("POST", "/api/token/email_change", { token: user.authToken });
    const change = tokenIn(await mailTo(user.email, /change/i));
    const res = await server.call("PATCH", "/api/email", {
      token: user.authToken,
      body: { token: change, email: uniqueEmail(), password: PASSWORD },
    });
    expect(res.status).toBe(204);
    expect((await server.call("POST", "/auth/password/confirm", { body: { token: reset } })).status).toBe(
      422,
    );
  });
});

describe("PATCH /api/password", () => {
  it("checks the current password and the new one, then signs out everywhere", async () => {
    const user = await register(server);
    const newPassword = "an entirely different passphrase";
    const cases: [Record<string, unknown>, unknown][] = [
      [
        {},
        {
          password: ["can't be blank"],
          new_password: ["can't be blank"],
          new_password_confirmation: ["can't be blank"],
        },
      ],
      [
        { password: "wrong wrong wrong", new_password: newPassword, new_password_confirmation: newPassword },
        { password: ["is not valid"] },
      ],
      [
        { password: PASSWORD, new_password: newPassword, new_password_confirmation: "typo" },
        { new_password_confirmation: ["does not match confirmation"] },
      ],
      [
        { password: PASSWORD, new_password: "123456789012", new_password_confirmation: "123456789012" },
        { new_password: ["is too common or easy to guess"] },
      ],
    ];
    for (const [body, errors] of cases) {
      const res = await server.call("PATCH", "/api/password", { token: user.authToken, body });
      expect({ body, status: res.status, json: res.json }).toEqual({ body, status: 422, json: { errors } });
    }
    const control = await recordTopic(server.hub, USERS_CONTROL_TOPIC);
    const res = await server.call("PATCH", "/api/password", {
      token: user.authToken,
      body: { password: PASSWORD, new_password: newPassword, new_password_confirmation: newPassword },
    });
    expect(res.status).toBe(204);
    expect((await server.call("GET", "/api/conversations", { token: user.authToken })).status).toBe(401);
    expect((await server.call("POST", "/auth/refresh", { body: { token: user.refreshToken } })).status).toBe(
      401,
    );
    expect(
      (await server.call("POST", "/auth/login", { body: { email: user.email, password: PASSWORD } })).status,
    ).toBe(401);
    expect(
      (await server.call("POST", "/auth/login", { body: { email: user.email, password: newPassword } }))
        .status,
    ).toBe(200);
    await expect
      .poll(() => control.messages)
      .toContainEqual(expect.objectContaining({ action: "disconnect_user", data: user.id }));
    await control.stop();
  });
});

describe("PATCH /api/profile", () => {
  it("changes the fields given, answers the whole profile, and tells the user's channel", async () => {
    const user = await register(server);
    const events = await recordTopic(server.hub, `user:${user.id}`);
    const full = {
      hidden: true,
      theme: "night",
      magnification: 1.2,
      recents: ["/chat/1787a16a-e6a3-4a22-bfdc-0f0ac7253ad5"],
    };
    const res = await server.call("PATCH", "/api/profile", { token: user.authToken, body: full });
    expect(res.status).toBe(200);
    expect(res.json).toEqual(full);
    const partial = await server.call("PATCH", "/api/profile", {
      token: user.authToken,
      body: { theme: "day" },
    });
    expect(partial.json).toEqual({ ...full, theme: "day" });
    await expect.poll(() => events.messages.length).toBe(2);
    expect(events.messages[0]).toEqual({
      kind: "broadcast",
      topic: `user:${user.id}`,
      event: "profile_updated",
      payload: JSON.stringify(full),
    });
    const login = await server.call("POST", "/auth/login", {
      body: { email: user.email, password: PASSWORD },
    });
    expect((login.json as { user: unknown }).user).toMatchObject({ ...full, theme: "day" });
    await events.stop();
  });

  it("422 for out-of-range or mistyped values", async () => {
    const user = await register(server);
    const cases: [Record<string, unknown>, Record<string, string[]>][] = [
      [{ theme: "dusk" }, { theme: ["is invalid"] }],
      [{ magnification: 1.5 }, { magnification: ["must be less than or equal to 1.4"] }],
      [{ magnification: 0.5 }, { magnification: ["must be greater than or equal to 0.7"] }],
      [{ magnification: "1.0" }, { magnification: ["is invalid"] }],
      [{ hidden: "yes" }, { hidden: ["is invalid"] }],
      [{ recents: "/chat/x" }, { recents: ["is invalid"] }],
      [{ recents: [1] }, { recents: ["is invalid"] }],
      [
        { recents: Array.from({ length: 51 }, (_, i) => `/p/${i}`) },
        { recents: ["should have at most 50 item(s)"] },
      ],
    ];
    for (const [body, errors] of cases) {
      const res = await server.call("PATCH", "/api/profile", { token: user.authToken, body });
      expect({ body, status: res.status, json: res.json }).toEqual({ body, status: 422, json: { errors } });
    }
  });
});
