/** @module Tests: access-token issue/verify, every refusal, seed-004 compatibility, sign-out rule. */
import { createHmac, randomBytes } from "node:crypto";
import fc from "fast-check";
import { SignJWT } from "jose";
import { describe, expect, it, vi } from "vitest";
import { createAccessTokens, isRevoked, type VerifyFailure, type VerifyResult } from "./access-token.js";

const SECRET = "your-shared-secret-key-for-seed-004-tests";
const OTHER_SECRET = "another-secret-that-is-long-enough-32+";
const USER = "4b2e1b0f-740d-411d-8133-dc9ab6640b5e";
const EXP = 1768163851; // seed 004's example `exp`
const NOW = new Date((EXP - 3600) * 1000);
const NOW_S = EXP - 3600;

// Made with the real PyJWT 2.6.0 (Debian python3-jwt), exactly as seed 004 does it:
//   jwt.encode({"sub": USER, "exp": 1768163851}, SECRET, algorithm="HS256")
//   jwt.encode({"sub": USER.upper()}, SECRET, algorithm="HS256")
const PYJWT_WITH_EXP =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0YjJlMWIwZi03NDBkLTQxMWQtODEzMy1kYzlhYjY2NDBiNWUiLCJleHAiOjE3NjgxNjM4NTF9.6jIY92g5Nmx-RgA4Om2D5FtJOpgF8S6qmZRAIglLfW4";
const PYJWT_NO_EXP_UPPER =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0QjJFMUIwRi03NDBELTQxMUQtODEzMy1EQzlBQjY2NDBCNUUifQ.in0BysF1ruy7EH3jIoz6WsaNeTYsXO1Ko35hEvH8wcQ";

const b64url = (text: string) => Buffer.from(text, "utf8").toString("base64url");
const json = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

/**
 * A compact JWS built by hand with node:crypto, not jose: header and payload are JSON values or raw
 * JSON text (for things JSON.stringify cannot write, like 1e999). Signs with HMAC-`hash`.
 */
function handToken(
  header: unknown,
  payload: unknown,
  { secret = SECRET, hash = "sha256" }: { secret?: string; hash?: string } = {},
): string {
  const input = `${b64url(json(header))}.${b64url(json(payload))}`;
  return `${input}.${createHmac(hash, secret).update(input).digest("base64url")}`;
}

const HS256 = { alg: "HS256", typ: "JWT" };
const seedPayload = (extra: Record<string, unknown> = {}) => ({ sub: USER, exp: NOW_S + 86400, ...extra });

function make(options: Partial<Parameters<typeof createAccessTokens>[0]> = {}) {
  return createAccessTokens({ secret: SECRET, requireExp: false, ...options });
}

const decodePart = (token: string, i: number): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split(".")[i] ?? "", "base64url").toString("utf8"));

const refused = (reason: VerifyFailure): VerifyResult => ({ ok: false, reason });

describe("seed-004 tokens (external FastAPI backend, PyJWT)", () => {
  it("accepts a real PyJWT token with exp", async () => {
    await expect(make().verify(PYJWT_WITH_EXP, { now: NOW })).resolves.toEqual({
      ok: true,
      userId: USER,
      issuedAt: undefined,
      expiresAt: EXP,
    });
  });

  it("accepts a real PyJWT token without exp (exp is optional) and lowercases an uppercase sub", async () => {
    const r = await make().verify(PYJWT_NO_EXP_UPPER, { now: NOW });
    expect(r).toEqual({ ok: true, userId: USER, issuedAt: undefined, expiresAt: undefined });
  });

  it("refuses the PyJWT token without exp when requireExp is on", async () => {
    const r = await make({ requireExp: true }).verify(PYJWT_NO_EXP_UPPER, { now: NOW });
    expect(r).toEqual(refused("missing_exp"));
  });

  it("refuses the PyJWT token once its exp has passed", async () => {
    const r = await make().verify(PYJWT_WITH_EXP, { now: new Date((EXP + 60) * 1000) });
    expect(r).toEqual(refused("expired"));
  });

  it("builds the same bytes by hand with node:crypto HMAC, and accepts them", async () => {
    const token = handToken({ alg: "HS256", typ: "JWT" }, { sub: USER, exp: EXP });
    expect(token).toBe(PYJWT_WITH_EXP);
    const fresh = handToken(HS256, { sub: USER, exp: NOW_S + 86400 });
    await expect(make({ requireExp: true }).verify(fresh, { now: NOW })).resolves.toMatchObject({
      ok: true,
      userId: USER,
      expiresAt: NOW_S + 86400,
    });
  });
});

describe("issue → verify", () => {
  it("round-trips, with sub, iat, exp, jti and token_use in the token", async () => {
    const tokens = make({ requireExp: true });
    const issued = await tokens.issue(USER, { now: NOW });
    expect(issued.issuedAt).toEqual(new Date(NOW_S * 1000));
    expect(issued.expiresAt).toEqual(new Date((NOW_S + 1800) * 1000));
    expect(decodePart(issued.token, 0)).toEqual({ alg: "HS256", typ: "JWT" });
    expect(decodePart(issued.token, 1)).toEqual({
      sub: USER,
      iat: NOW_S,
      exp: NOW_S + 1800,
      jti: issued.jti,
      token_use: "access",
    });
    expect(issued.jti).toMatch(/^[0-9a-f-]{36}$/);
    await expect(tokens.verify(issued.token, { now: NOW })).resolves.toEqual({
      ok: true,
      userId: USER,
      issuedAt: NOW_S,
      expiresAt: NOW_S + 1800,
    });
  });

  it("lowercases the subject, gives each token its own jti, honours ttlSeconds", async () => {
    const tokens = make({ ttlSeconds: 60 });
    const a = await tokens.issue(USER.toUpperCase(), { now: NOW });
    const b = await tokens.issue(USER, { now: NOW });
    expect(decodePart(a.token, 1).sub).toBe(USER);
    expect(a.jti).not.toBe(b.jti);
    expect(decodePart(a.token, 1).exp).toBe(NOW_S + 60);
  });

  it("honours exp with the clock tolerance (5 s by default)", async () => {
    const tokens = make({ ttlSeconds: 60 });
    const { token } = await tokens.issue(USER, { now: NOW });
    const at = (s: number) => tokens.verify(token, { now: new Date((NOW_S + s) * 1000) });
    await expect(at(59)).resolves.toMatchObject({ ok: true });
    await expect(at(64)).resolves.toMatchObject({ ok: true });
    await expect(at(65)).resolves.toEqual(refused("expired"));
    const strict = make({ ttlSeconds: 60, clockToleranceSeconds: 0 });
    await expect(strict.verify(token, { now: new Date((NOW_S + 60) * 1000) })).resolves.toEqual(
      refused("expired"),
    );
  });

  it("throws (a bug, not a value) when asked to issue for a non-UUID", async () => {
    await expect(make().issue("alice")).rejects.toThrow(/expected a user UUID/);
  });

  it("refuses to be built with a short secret or a bad ttl", () => {
    expect(() => createAccessTokens({ secret: "short", requireExp: false })).toThrow(/at least 32 bytes/);
    expect(() => make({ ttlSeconds: 0 })).toThrow(/ttlSeconds/);
    expect(() => make({ clockToleranceSeconds: -1 })).toThrow(/clockToleranceSeconds/);
  });
});

describe("refusals", () => {
  const sig = randomBytes(32).toString("base64url");
  const cases: [string, () => string | Promise<string>, VerifyFailure][] = [
    [
      "alg none, empty signature",
      () => `${b64url('{"alg":"none","typ":"JWT"}')}.${b64url(json(seedPayload()))}.`,
      "algorithm",
    ],
    [
      "alg none, any signature",
      () => `${b64url('{"alg":"none"}')}.${b64url(json(seedPayload()))}.${sig}`,
      "algorithm",
    ],
    ["alg NONE", () => `${b64url('{"alg":"NONE"}')}.${b64url(json(seedPayload()))}.`, "algorithm"],
    [
      "HS512 signed with the right secret",
      () => handToken({ alg: "HS512", typ: "JWT" }, seedPayload(), { hash: "sha512" }),
      "algorithm",
    ],
    [
      "HS384 signed with the right secret",
      () => handToken({ alg: "HS384" }, seedPayload(), { hash: "sha384" }),
      "algorithm",
    ],
    [
      "RS256 header (key confusion attempt)",
      () => handToken({ alg: "RS256", typ: "JWT" }, seedPayload()),
      "algorithm",
    ],
    ["ES256 header", () => `${b64url('{"alg":"ES256"}')}.${b64url(json(seedPayload()))}.${sig}`, "algorithm"],
    ["lowercase hs256", () => handToken({ alg: "hs256" }, seedPayload()), "algorithm"],
    ["no alg", () => handToken({ typ: "JWT" }, seedPayload()), "malformed"],
    ["wrong secret", () => handToken(HS256, seedPayload(), { secret: OTHER_SECRET }), "bad_signature"],
    [
      "tampered payload",
      () => {
        const [h, , s] = handToken(HS256, seedPayload()).split(".");
        return `${h}.${b64url(json(seedPayload({ sub: "00000000-0000-0000-0000-000000000000" })))}.${s}`;
      },
      "bad_signature",
    ],
    ["signature stripped", () => handToken(HS256, seedPayload()).replace(/\.[^.]*$/, "."), "bad_signature"],
    ["expired", () => handToken(HS256, seedPayload({ exp: NOW_S - 10 })), "expired"],
    ["exp = 0", () => handToken(HS256, seedPayload({ exp: 0 })), "expired"],
    ["nbf in the future", () => handToken(HS256, seedPayload({ nbf: NOW_S + 60 })), "not_yet_valid"],
    ["exp as a string", () => handToken(HS256, seedPayload({ exp: String(NOW_S + 100) })), "malformed"],
    [
      "exp = 1e999 (Infinity after JSON.parse)",
      () => handToken(HS256, `{"sub":"${USER}","exp":1e999}`),
      "malformed",
    ],
    ["iat = -1e999", () => handToken(HS256, `{"sub":"${USER}","iat":-1e999}`), "malformed"],
    ["payload is a JSON string", () => handToken(HS256, '"hello"'), "malformed"],
    ["payload is an array", () => handToken(HS256, [USER]), "malformed"],
    ["payload is not JSON", () => handToken(HS256, "{sub:"), "malformed"],
    ["header is not JSON", () => handToken("{alg:HS256", seedPayload()), "malformed"],
    [
      "unknown crit extension",
      () => handToken({ alg: "HS256", crit: ["x-nexus"], "x-nexus": 1 }, seedPayload()),
      "malformed",
    ],
    [
      "unencoded payload (b64: false)",
      () => handToken({ alg: "HS256", b64: false, crit: ["b64"] }, seedPayload()),
      "malformed",
    ],
    ["no sub", () => handToken(HS256, { exp: NOW_S + 100 }), "bad_subject"],
    ["sub not a UUID", () => handToken(HS256, seedPayload({ sub: "alice" })), "bad_subject"],
    ["sub a number", () => handToken(HS256, seedPayload({ sub: 42 })), "bad_subject"],
    ["sub null", () => handToken(HS256, seedPayload({ sub: null })), "bad_subject"],
    [
      "sub UUID without dashes",
      () => handToken(HS256, seedPayload({ sub: USER.replaceAll("-", "") })),
      "bad_subject",
    ],
    ["sub UUID in braces", () => handToken(HS256, seedPayload({ sub: `{${USER}}` })), "bad_subject"],
    [
      "sub UUID with trailing newline",
      () => handToken(HS256, seedPayload({ sub: `${USER}\n` })),
      "bad_subject",
    ],
    [
      "sub UUID with a non-hex letter",
      () => handToken(HS256, seedPayload({ sub: USER.replace("a", "g") })),
      "bad_subject",
    ],
    ["token_use refresh", () => handToken(HS256, seedPayload({ token_use: "refresh" })), "wrong_type"],
    [
      "token_use password_reset",
      () => handToken(HS256, seedPayload({ token_use: "password_reset" })),
      "wrong_type",
    ],
    ["token_use null", () => handToken(HS256, seedPayload({ token_use: null })), "wrong_type"],
    [
      "token_use ACCESS (case matters)",
      () => handToken(HS256, seedPayload({ token_use: "ACCESS" })),
      "wrong_type",
    ],
    [
      "header typ email+jwt",
      () => handToken({ alg: "HS256", typ: "email+jwt" }, seedPayload()),
      "wrong_type",
    ],
    ["header typ not a string", () => handToken({ alg: "HS256", typ: 1 }, seedPayload()), "wrong_type"],
    [
      "another kind signed by jose itself",
      () =>
        new SignJWT({ token_use: "email_confirm" })
          .setProtectedHeader({ alg: "HS256" })
          .setSubject(USER)
          .setIssuedAt(NOW_S)
          .setExpirationTime(NOW_S + 60)
          .sign(new TextEncoder().encode(SECRET)),
      "wrong_type",
    ],
  ];

  it.each(cases.map(([name, build, reason]) => [name, reason, build] as const))(
    "%s → %s",
    async (_name, reason, build) => {
      await expect(make().verify(await build(), { now: NOW })).resolves.toEqual(refused(reason));
    },
  );

  it("refuses a token without exp when requireExp is on, accepts it when off", async () => {
    const token = handToken(HS256, { sub: USER, iat: NOW_S });
    await expect(make({ requireExp: true }).verify(token, { now: NOW })).resolves.toEqual(
      refused("missing_exp"),
    );
    await expect(make().verify(token, { now: NOW })).resolves.toMatchObject({ ok: true, issuedAt: NOW_S });
  });

  it("accepts header typ JWT / at+jwt / application/jwt in any case, and no typ", async () => {
    for (const typ of ["JWT", "jwt", "at+jwt", "application/JWT", "application/at+JWT", undefined]) {
      const token = handToken({ alg: "HS256", typ }, seedPayload());
      await expect(make().verify(token, { now: NOW })).resolves.toMatchObject({ ok: true });
    }
  });

  it.each([
    ["empty string", ""],
    ["no dots", "garbage"],
    ["three parts, not base64 JSON", "a.b.c"],
    ["empty parts", "..."],
    ["two parts", "a.b"],
    ["five parts (JWE-shaped)", "a.b.c.d.e"],
    ["too long", "x".repeat(8193)],
    ["a scheme prefix", `Bearer ${PYJWT_WITH_EXP}`],
    ["a trailing space", `${PYJWT_WITH_EXP} `],
    ["a trailing newline", `${PYJWT_WITH_EXP}\n`],
    ["base64 padding", `${PYJWT_WITH_EXP}=`],
    ["standard base64 characters", PYJWT_WITH_EXP.replace("-", "+")],
    ["a NUL", `${PYJWT_WITH_EXP}\u0000`],
  ])("garbage: %s → malformed", async (_name, token) => {
    await expect(make().verify(token, { now: NOW })).resolves.toEqual(refused("malformed"));
  });

  it.each([undefined, null, 42, {}, ["a.b.c"], new Uint8Array(3)])(
    "non-string %j → malformed",
    async (token) => {
      await expect(make().verify(token, { now: NOW })).resolves.toEqual(refused("malformed"));
    },
  );

  it("an oversized token is refused before any parsing", async () => {
    const big = handToken(HS256, seedPayload({ pad: "x".repeat(9000) }));
    await expect(make().verify(big, { now: NOW })).resolves.toEqual(refused("malformed"));
  });
});

describe("sign-out everywhere (validAfter)", () => {
  const SIGN_OUT_MS = NOW_S * 1000 + 400; // 400 ms into second NOW_S
  const signedOut = () => vi.fn(async (_userId: string) => SIGN_OUT_MS as number | undefined);
  const tokenAt = (iat: number | undefined) =>
    handToken(HS256, seedPayload(iat === undefined ? {} : { iat }));

  it("the rule: revoked iff no iat, or iat * 1000 <= validAfter", () => {
    expect(isRevoked(NOW_S, undefined)).toBe(false);
    expect(isRevoked(undefined, undefined)).toBe(false);
    expect(isRevoked(undefined, SIGN_OUT_MS)).toBe(true);
    expect(isRevoked(NOW_S - 1, SIGN_OUT_MS)).toBe(true);
    expect(isRevoked(NOW_S, SIGN_OUT_MS)).toBe(true); // same second, issued before or after: refused
    expect(isRevoked(NOW_S, NOW_S * 1000)).toBe(true); // sign-out exactly on the second boundary
    expect(isRevoked(NOW_S + 1, SIGN_OUT_MS)).toBe(false);
    expect(isRevoked(NOW_S + 0.5, SIGN_OUT_MS)).toBe(false); // a fractional iat is legal JWT
  });

  it("refuses tokens issued before, or in the same second as, the sign-out", async () => {
    const tokens = make({ validAfter: signedOut() });
    const at = { now: new Date(SIGN_OUT_MS + 5000) };
    await expect(tokens.verify(tokenAt(NOW_S - 100), at)).resolves.toEqual(refused("revoked"));
    await expect(tokens.verify(tokenAt(NOW_S), at)).resolves.toEqual(refused("revoked"));
    await expect(tokens.verify(tokenAt(NOW_S + 1), at)).resolves.toMatchObject({ ok: true });
  });

  it("refuses a token without iat once the user has signed out everywhere", async () => {
    await expect(make({ validAfter: signedOut() }).verify(PYJWT_WITH_EXP, { now: NOW })).resolves.toEqual(
      refused("revoked"),
    );
    const never = make({ validAfter: async () => undefined });
    await expect(never.verify(PYJWT_WITH_EXP, { now: NOW })).resolves.toMatchObject({ ok: true });
  });

  it("looks up the lowercased user id, and only for otherwise valid tokens", async () => {
    const validAfter = signedOut();
    const tokens = make({ validAfter });
    await tokens.verify(PYJWT_NO_EXP_UPPER, { now: NOW });
    expect(validAfter).toHaveBeenCalledWith(USER);
    validAfter.mockClear();
    await tokens.verify(handToken(HS256, seedPayload(), { secret: OTHER_SECRET }), { now: NOW });
    expect(validAfter).not.toHaveBeenCalled();
  });

  it("issue right after a sign-out (same second) dates the token at the next second, so it is valid", async () => {
    const tokens = make({ validAfter: signedOut() });
    const now = new Date(SIGN_OUT_MS + 100);
    const issued = await tokens.issue(USER, { now });
    expect(issued.issuedAt).toEqual(new Date((NOW_S + 1) * 1000));
    expect(issued.expiresAt).toEqual(new Date((NOW_S + 1 + 1800) * 1000));
    await expect(tokens.verify(issued.token, { now })).resolves.toMatchObject({
      ok: true,
      issuedAt: NOW_S + 1,
    });
    const later = await tokens.issue(USER, { now: new Date(SIGN_OUT_MS + 10_000) });
    expect(later.issuedAt).toEqual(new Date((NOW_S + 10) * 1000));
  });

  it("rejects (an outage, not a verdict) when the validAfter lookup fails", async () => {
    const tokens = make({ validAfter: async () => Promise.reject(new Error("db down")) });
    await expect(tokens.verify(PYJWT_WITH_EXP, { now: NOW })).rejects.toThrow("db down");
  });
});

describe("properties: verify never throws on client input", () => {
  const tokens = make({ requireExp: false });
  const reasons = new Set<string>([
    "malformed",
    "bad_signature",
    "algorithm",
    "expired",
    "not_yet_valid",
    "missing_exp",
    "bad_subject",
    "wrong_type",
    "revoked",
  ]);
  const check = (r: VerifyResult) => {
    if (r.ok) expect(r.userId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    else expect(reasons.has(r.reason)).toBe(true);
  };

  it("arbitrary strings", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 400 }), async (s) => {
        const r = await tokens.verify(s, { now: NOW });
        expect(r.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("arbitrary three-part base64url-ish strings", async () => {
    const part = fc.string({ unit: fc.constantFrom(..."ABCxyz0129-_=+/.eyJ"), maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(part, part, part, async (a, b, c) => {
        const r = await tokens.verify(`${a}.${b}.${c}`, { now: NOW });
        expect(r.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("arbitrary JSON header and payload, correctly signed with the secret", async () => {
    // Weighted towards nearly valid tokens, so that the claim checks run, not only the parsers.
    const extras = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 });
    const header = fc.oneof(
      {
        weight: 3,
        arbitrary: fc
          .tuple(extras, fc.constantFrom("JWT", "at+jwt", "x"))
          .map(([x, typ]) => ({ ...x, alg: "HS256", typ })),
      },
      { weight: 1, arbitrary: fc.jsonValue() },
    );
    const claims = fc
      .tuple(
        extras,
        fc.record(
          {
            sub: fc.oneof({ weight: 4, arbitrary: fc.uuid() }, fc.jsonValue()),
            exp: fc.oneof(
              { weight: 4, arbitrary: fc.integer({ min: NOW_S + 10, max: NOW_S + 10 ** 6 }) },
              fc.double(),
              fc.jsonValue(),
            ),
            iat: fc.oneof(fc.integer(), fc.jsonValue()),
            nbf: fc.oneof(fc.integer(), fc.jsonValue()),
            token_use: fc.oneof({ weight: 4, arbitrary: fc.constant("access") }, fc.jsonValue()),
          },
          { requiredKeys: ["sub"] },
        ),
      )
      .map(([x, c]) => ({ ...x, ...c }));
    const payload = fc.oneof({ weight: 4, arbitrary: claims }, fc.jsonValue(), fc.string());
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(header, payload, async (h, p) => {
        const input = `${b64url(JSON.stringify(h) ?? "null")}.${b64url(JSON.stringify(p) ?? "null")}`;
        const token = `${input}.${createHmac("sha256", SECRET).update(input).digest("base64url")}`;
        const r = await tokens.verify(token, { now: NOW });
        check(r);
        if (r.ok) accepted++;
      }),
      { numRuns: 500 },
    );
    // The generator must reach the claim checks, not just bounce off the signature.
    expect(accepted).toBeGreaterThan(0);
  });
});
