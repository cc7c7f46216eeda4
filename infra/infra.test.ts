/**
 * No Docker engine runs where CI runs, so the deployment files are checked by reading them:
 * the compose file parses, every build points at a Dockerfile that exists, and every
 * environment variable handed to a Nexus service is one the config package knows.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { envSchema } from "@nexus/config";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
}

describe("docker-compose.yml", () => {
  const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8")) as {
    services: Record<string, ComposeService>;
  };
  const known = new Set(Object.keys(envSchema.shape));

  it("has postgres and redis with health checks", () => {
    expect(compose.services.postgres?.healthcheck).toBeDefined();
    expect(compose.services.redis?.healthcheck).toBeDefined();
  });

  it("builds every Nexus service from a Dockerfile in the repo, with only known variables", () => {
    const built = Object.entries(compose.services).filter(([, s]) => s.build);
    expect(built.length).toBeGreaterThan(0);
    for (const [name, svc] of built) {
      const dockerfile = join(root, svc.build!.context, svc.build!.dockerfile);
      expect(existsSync(dockerfile), `${name}: ${dockerfile}`).toBe(true);
      for (const key of Object.keys(svc.environment ?? {})) {
        expect(known.has(key), `${name}: unknown variable ${key}`).toBe(true);
      }
      for (const dep of Object.keys(svc.depends_on ?? {})) {
        expect(compose.services[dep], `${name} depends on ${dep}`).toBeDefined();
      }
    }
  });

  it("Dockerfiles run the built bundle as a non-root user", () => {
    for (const [, svc] of Object.entries(compose.services).filter(([, s]) => s.build)) {
      const text = readFileSync(join(root, svc.build!.context, svc.build!.dockerfile), "utf8");
      expect(text).toMatch(/CMD \["node", "dist\/main\.js"\]/);
      expect(text).toMatch(/^USER node$/m);
    }
  });
});
