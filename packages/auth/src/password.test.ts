/** @module Tests: argon2id hashing, verification that never throws, rehash detection, dummy work, policy. */
import * as argon2 from "@node-rs/argon2";
import { describe, expect, it, vi } from "vitest";
import {
  DUMMY_HASH,
  dummyVerify,
  hashPassword,
  needsRehash,
  PASSWORD_HASH_PARAMS,
  passwordPolicy,
  verifyPassword,
} from "./password.js";

// Wrap (not replace) the native functions, so tests can see that argon2 really ran.
vi.mock("@node-rs/argon2", async (importOriginal) => {
  const real = await importOriginal<typeof import("@node-rs/argon2")>();
  return { ...real, verify: vi.fn(real.verify), hash: vi.fn(real.hash) };
});

const PW = "correct horse battery staple";

describe("argon2id parameters", () => {
  it("are at least OWASP's minimum (argon2id, m = 19 MiB, t = 2, p = 1)", () => {
    expect(PASSWORD_HASH_PARAMS.algorithm).toBe(2); // Algorithm.Argon2id
    expect(PASSWORD_HASH_PARAMS.memoryCost).toBeGreaterThanOrEqual(19456);
    expect(PASSWORD_HASH_PARAMS.timeCost).toBeGreaterThanOrEqual(2);
    expect(PASSWORD_HASH_PARAMS.parallelism).toBeGreaterThanOrEqual(1);
  });

  it("DUMMY_HASH was made with exactly the current parameters (regenerate it when they change)", () => {
    const p = argon2.parseOptions(DUMMY_HASH);
    const { algorithm, version, memoryCost, timeCost, parallelism, outputLen } = PASSWORD_HASH_PARAMS;
    expect(p).toMatchObject({ algorithm, version, memoryCost, timeCost, parallelism, outputLen });
    expect(needsRehash(DUMMY_HASH)).toBe(false);
  });
});

describe("hashPassword / verifyPassword", () => {
  it("round-trips, refuses a wrong password, salts every hash", async () => {
    const h = await hashPassword(PW);
    expect(h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    await expect(verifyPassword(h, PW)).resolves.toBe(true);
    await expect(verifyPassword(h, `${PW} `)).resolves.toBe(false);
    await expect(verifyPassword(h, "")).resolves.toBe(false);
    expect(await hashPassword(PW)).not.toBe(h);
  });

  it("normalises to NFKC, so composed and decomposed forms of a password match", async () => {
    const composed = "café-passwörd-ﬁne"; // é, ö precomposed; the "ﬁ" ligature
    const decomposed = "cafe\u0301-passwo\u0308rd-fine";
    const h = await hashPassword(composed);
    await expect(verifyPassword(h, decomposed)).resolves.toBe(true);
  });

  it.each([
    ["empty", ""],
    ["garbage", "garbage"],
    ["truncated PHC", "$argon2id$v=19$m=19456"],
    ["bad base64 in salt", "$argon2id$v=19$m=19456,t=2,p=1$!!!$!!!"],
    ["a bcrypt hash", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"],
  ])("is false (not a throw) for a malformed stored hash: %s", async (_name, stored) => {
    await expect(verifyPassword(stored, PW)).resolves.toBe(false);
  });

  it("is false for non-string input", async () => {
    const h = await hashPassword(PW);
    await expect(verifyPassword(h, undefined as unknown as string)).resolves.toBe(false);
    await expect(verifyPassword(null as unknown as string, PW)).resolves.toBe(false);
  });

  it("hashPassword throws on a non-string (a bug in the caller)", async () => {
    await expect(hashPassword(42 as unknown as string)).rejects.toThrow(TypeError);
  });
});

describe("needsRehash", () => {
  const weak = (options: argon2.Options) => argon2.hash(PW, { outputLen: 32, ...options });

  it("is false for a current hash and for stronger ones", async () => {
    expect(needsRehash(await hashPassword(PW))).toBe(false);
    expect(needsRehash(await weak({ algorithm: 2, memoryCost: 32768, timeCost: 3, parallelism: 1 }))).toBe(
      false,
    );
  });

  it("is true for weaker parameters, another variant, or something unparsable", async () => {
    expect(needsRehash(await weak({ algorithm: 2, memoryCost: 8192, timeCost: 2, parallelism: 1 }))).toBe(
      true,
    );
    expect(needsRehash(await weak({ algorithm: 2, memoryCost: 19456, timeCost: 1, parallelism: 1 }))).toBe(
      true,
    );
    expect(needsRehash(await weak({ algorithm: 1, memoryCost: 19456, timeCost: 2, parallelism: 1 }))).toBe(
      true,
    );
    expect(needsRehash(await weak({ algorithm: 0, memoryCost: 19456, timeCost: 2, parallelism: 1 }))).toBe(
      true,
    );
    expect(needsRehash("garbage")).toBe(true);
  });
});

describe("dummyVerify (unknown email costs what a known one does)", () => {
  it("resolves false after a real argon2 verification against a full-cost hash", async () => {
    const verify = vi.mocked(argon2.verify);
    verify.mockClear();
    await expect(dummyVerify(PW)).resolves.toBe(false);
    expect(verify).toHaveBeenCalledTimes(1);
    expect(verify.mock.calls[0]?.[0]).toBe(DUMMY_HASH);
    // Fulfilled, not rejected: the hash decoded and argon2 did the full m/t work (a decode failure
    // would return at once and make unknown emails fast). Timings themselves are never asserted.
    await expect(verify.mock.results[0]?.value).resolves.toBe(false);
  });

  it("is false for any input, including non-strings", async () => {
    await expect(dummyVerify("")).resolves.toBe(false);
    await expect(dummyVerify(undefined as unknown as string)).resolves.toBe(false);
  });
});

describe("passwordPolicy", () => {
  it.each<[string, unknown, { email?: string }, string[]]>([
    ["a good passphrase", PW, {}, []],
    ["the seed's example", "VerySecurePassword1!", { email: "a@b.co" }, []],
    ["12 characters exactly", "abcdefgh1234", {}, []],
    ["spaces are allowed and kept", "  my   spacey   pass  ", {}, []],
    ["any Unicode, counted in code points", "пароль-😀😀😀😀😀😀", {}, []],
    ["11 characters", "abcdefgh123", {}, ["should be at least 12 character(s)"]],
    [
      "emoji count as one character each",
      "😀🎉🐱🌮🚀🎸🍕🌈🐶🎈⚽",
      {},
      ["should be at least 12 character(s)"],
    ],
    ["missing", undefined, {}, ["can't be blank"]],
    ["empty", "", {}, ["can't be blank"]],
    ["only whitespace", "              ", {}, ["can't be blank"]],
    ["not a string", 123456789012345, {}, ["can't be blank"]],
    ["1025 characters", `${"ab1".repeat(341)}ab`, {}, ["should be at most 1024 character(s)"]],
    [
      "the email",
      "Alice.Smith@Example.com",
      { email: "alice.smith@example.com" },
      ["must not be the same as your email"],
    ],
    [
      "the email's name part",
      "alice.smith.1990",
      { email: "Alice.Smith.1990@example.com" },
      ["must not be the same as your email"],
    ],
    ["one character repeated", "aaaaaaaaaaaaaaaa", {}, ["is too common or easy to guess"]],
    ["a straight run of letters", "abcdefghijklmn", {}, ["is too common or easy to guess"]],
    ["a straight run of digits, wrapping", "789012345678", {}, ["is too common or easy to guess"]],
    ["a descending run", "9876543210987", {}, ["is too common or easy to guess"]],
    ["a very common one, any case", "Password1234", {}, ["is too common or easy to guess"]],
    [
      "short and the email",
      "a@b.co",
      { email: "a@b.co" },
      ["should be at least 12 character(s)", "must not be the same as your email"],
    ],
  ])("%s", (_name, password, context, problems) => {
    expect(passwordPolicy(password, context)).toEqual(problems);
  });
});
