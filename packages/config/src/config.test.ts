import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";

const SECRET = "x".repeat(32);
const VAULT = Buffer.alloc(32, 7).toString("base64");

function problems(role: Parameters<typeof parseConfig>[0], env: Record<string, string>): string[] {
  const r = parseConfig(role, env);
  if (r.ok) throw new Error("expected a configuration error");
  return [...r.error.problems];
}

describe("parseConfig", () => {
  it("gives the documented defaults to a standalone node with an empty environment", () => {
    const r = parseConfig("standalone", {});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toMatchObject({
      port: 4000,
      poolSize: 10,
      databaseUrl: undefined,
      redisUrl: undefined,
      jwtSecret: undefined,
      jwtRequireExp: false,
      logLevel: "info",
      presenceDownMs: 5000,
      allowedOrigins: null,
      production: false,
    });
    expect(r.config.dataDir.endsWith(".nexus")).toBe(true);
    expect(r.config.nodeId).toMatch(/^[A-Za-z0-9._-]+-[0-9a-f]{8}$/);
    expect(Object.isFrozen(r.config)).toBe(true);
  });

  it("refuses a gateway without JWT_SECRET and names it", () => {
    expect(problems("gateway", {})).toEqual(["JWT_SECRET: required for `gateway` but not set"]);
  });

  it("refuses an api node without JWT_SECRET or VAULT_KEY and names both", () => {
    expect(problems("api", {})).toEqual([
      "JWT_SECRET: required for `api` but not set",
      "VAULT_KEY: required for `api` but not set",
    ]);
  });

  it("names the variable and what is expected for invalid values", () => {
    const p = problems("standalone", {
      PORT: "http",
      POOL_SIZE: "0",
      LOG_LEVEL: "loud",
      JWT_REQUIRE_EXP: "yes",
    });
    expect(p).toContain('PORT: expected an integer from 0 to 65535 (got "http")');
    expect(p).toContain('POOL_SIZE: expected at least 1 (got "0")');
    expect(p.find((x) => x.startsWith("LOG_LEVEL:"))).toMatch(/expected fatal, error, warn, info/);
    expect(p.find((x) => x.startsWith("JWT_REQUIRE_EXP:"))).toMatch(/expected "true" or "false"/);
  });

  it("rejects URLs of the wrong kind", () => {
    const p = problems("standalone", { DATABASE_URL: "mysql://x/y", REDIS_URL: "not a url" });
    expect(p).toContain(
      'DATABASE_URL: expected a URL starting with postgres:// or postgresql:// (got "mysql://x/y")',
    );
    expect(p).toContain('REDIS_URL: expected a URL starting with redis:// or rediss:// (got "not a url")');
  });

  it("rejects short JWT secrets and bad vault keys without echoing them", () => {
    const p = problems("api", { JWT_SECRET: "short-secret", VAULT_KEY: "c2hvcnQ=" });
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/^JWT_SECRET: expected at least 32 characters/);
    expect(p[1]).toMatch(/^VAULT_KEY: expected base64 of exactly 32 random bytes/);
    expect(p.join("\n")).not.toContain("short-secret");
    expect(p.join("\n")).not.toContain("c2hvcnQ=");
  });

  it("accepts a complete production api environment", () => {
    const r = parseConfig("api", {
      NODE_ENV: "production",
      PORT: "8080",
      JWT_SECRET: SECRET,
      VAULT_KEY: VAULT,
      DATABASE_URL: "postgres://u:p@db:5432/nexus",
      REDIS_URL: "redis://redis:6379",
      ALLOWED_ORIGINS: "https://a.example.com, //*.b.example.com",
      NODE_ID: "api-1",
      JWT_REQUIRE_EXP: "true",
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.production).toBe(true);
    expect(r.config.port).toBe(8080);
    expect(r.config.vaultKey?.length).toBe(32);
    expect(r.config.allowedOrigins).toEqual(["https://a.example.com", "//*.b.example.com"]);
    expect(r.config.nodeId).toBe("api-1");
    expect(r.config.jwtRequireExp).toBe(true);
  });

  it("treats empty strings as unset", () => {
    expect(problems("gateway", { JWT_SECRET: "" })).toEqual([
      "JWT_SECRET: required for `gateway` but not set",
    ]);
    const r = parseConfig("standalone", { PORT: "" });
    expect(r.ok && r.config.port).toBe(4000);
  });

  it("generates nothing for a production standalone node: it must be given its secrets", () => {
    expect(problems("standalone", { NODE_ENV: "production" })).toEqual([
      "JWT_SECRET: required for `standalone` in production but not set",
      "VAULT_KEY: required for `standalone` in production but not set",
    ]);
  });

  it("requires DATABASE_URL for migrate", () => {
    expect(problems("migrate", {})).toEqual(["DATABASE_URL: required for `migrate` but not set"]);
  });

  describe("REDIS_CLUSTER", () => {
    const gateway = { JWT_SECRET: SECRET, REDIS_URL: "redis://:pw@redis-0.redis:6379" };

    it("is off by default, and parsed like the other booleans", () => {
      expect(parseConfig("gateway", gateway)).toMatchObject({ ok: true, config: { redisCluster: false } });
      for (const [v, want] of [
        ["true", true],
        ["1", true],
        ["false", false],
        ["0", false],
      ] as const) {
        const r = parseConfig("gateway", { ...gateway, REDIS_CLUSTER: v });
        expect(r.ok && r.config.redisCluster).toBe(want);
      }
      expect(problems("gateway", { ...gateway, REDIS_CLUSTER: "yes" })).toEqual([
        'REDIS_CLUSTER: expected "true" or "false" (got "yes")',
      ]);
    });

    it("needs REDIS_URL, and one without a database (a cluster has only database 0)", () => {
      expect(problems("gateway", { JWT_SECRET: SECRET, REDIS_CLUSTER: "true" })).toEqual([
        "REDIS_CLUSTER: true needs REDIS_URL (one node of the cluster) but it is not set",
      ]);
      const p = problems("gateway", {
        ...gateway,
        REDIS_URL: "redis://:pw@redis:6379/2",
        REDIS_CLUSTER: "true",
      });
      expect(p).toEqual([
        'REDIS_URL: expected no database with REDIS_CLUSTER=true (a Redis Cluster has only 0) (got path "/2")',
      ]);
      expect(p.join("\n")).not.toContain("pw");
      for (const url of ["redis://redis:6379", "redis://redis:6379/", "redis://redis:6379/0"]) {
        expect(parseConfig("gateway", { ...gateway, REDIS_URL: url, REDIS_CLUSTER: "true" }).ok).toBe(true);
      }
    });
  });

  describe("VAULT_PREVIOUS_KEYS", () => {
    const key = (byte: number) => Buffer.alloc(32, byte).toString("base64");
    const api = { JWT_SECRET: SECRET, VAULT_KEY: VAULT };

    it("is optional: no previous keys by default", () => {
      const r = parseConfig("api", api);
      expect(r.ok && r.config.previousVaultKeys).toEqual([]);
    });

    it("parses a comma-separated list of base64 keys, in order, ignoring spaces and blank entries", () => {
      const r = parseConfig("api", { ...api, VAULT_PREVIOUS_KEYS: ` ${key(1)}, ${key(2)},` });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.config.previousVaultKeys).toEqual([Buffer.alloc(32, 1), Buffer.alloc(32, 2)]);
      expect(Object.isFrozen(r.config.previousVaultKeys)).toBe(true);
    });

    it("names the variable and each bad entry by position, without echoing any key", () => {
      const short = "c2hvcnQ=";
      const p = problems("api", { ...api, VAULT_PREVIOUS_KEYS: `${key(1)},${short},${key(9)},notbase64` });
      expect(p).toEqual([
        "VAULT_PREVIOUS_KEYS: entry 2 of 4: expected base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`)",
        "VAULT_PREVIOUS_KEYS: entry 4 of 4: expected base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`)",
      ]);
      const text = p.join("\n");
      for (const secret of [short, "notbase64", key(1), key(9)]) expect(text).not.toContain(secret);
    });

    it("is read by every role, the standalone node included", () => {
      const r = parseConfig("standalone", { VAULT_PREVIOUS_KEYS: key(4) });
      expect(r.ok && r.config.previousVaultKeys).toEqual([Buffer.alloc(32, 4)]);
    });
  });

  describe("the vault role (pnpm vault:reencrypt)", () => {
    it("requires DATABASE_URL and VAULT_KEY, naming both", () => {
      expect(problems("vault", {})).toEqual([
        "DATABASE_URL: required for `vault` but not set",
        "VAULT_KEY: required for `vault` but not set",
      ]);
    });

    it("needs no JWT_SECRET, and takes the previous keys", () => {
      const r = parseConfig("vault", {
        DATABASE_URL: "postgres://u:p@db:5432/nexus",
        VAULT_KEY: VAULT,
        VAULT_PREVIOUS_KEYS: Buffer.alloc(32, 1).toString("base64"),
      });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.config.vaultKey).toEqual(Buffer.from(VAULT, "base64"));
      expect(r.config.previousVaultKeys).toEqual([Buffer.alloc(32, 1)]);
    });
  });

  describe("the shutdown drain (DRAIN_*)", () => {
    const gateway = { JWT_SECRET: SECRET };

    it("defaults to Phoenix's batch size and interval, with a 20 s bound", () => {
      for (const role of ["gateway", "standalone"] as const) {
        const r = parseConfig(role, gateway);
        expect(r.ok && r.config).toMatchObject({
          drainBatchSize: 10_000,
          drainBatchIntervalMs: 2_000,
          drainTimeoutMs: 20_000,
        });
      }
    });

    it("takes each setting, and a zero timeout (close every socket at once)", () => {
      const r = parseConfig("gateway", {
        ...gateway,
        DRAIN_BATCH_SIZE: "4",
        DRAIN_BATCH_INTERVAL_MS: "250",
        DRAIN_TIMEOUT_MS: "0",
      });
      expect(r.ok && r.config).toMatchObject({
        drainBatchSize: 4,
        drainBatchIntervalMs: 250,
        drainTimeoutMs: 0,
      });
    });

    it("names each bad value and what is expected", () => {
      const p = problems("gateway", {
        ...gateway,
        DRAIN_BATCH_SIZE: "0",
        DRAIN_BATCH_INTERVAL_MS: "2s",
        DRAIN_TIMEOUT_MS: "600001",
      });
      expect(p).toEqual([
        'DRAIN_BATCH_SIZE: expected at least 1 (got "0")',
        'DRAIN_BATCH_INTERVAL_MS: expected an integer from 1 to 60000 (got "2s")',
        'DRAIN_TIMEOUT_MS: expected at most 600000 (got "600001")',
      ]);
      expect(problems("gateway", { ...gateway, DRAIN_BATCH_INTERVAL_MS: "0" })).toEqual([
        'DRAIN_BATCH_INTERVAL_MS: expected at least 1 (got "0")',
      ]);
    });
  });
});
