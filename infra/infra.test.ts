/**
 * No Docker engine runs where CI runs, so the deployment files are checked by reading them:
 * the compose file parses, every build names a Dockerfile and an app that exist, every
 * environment variable handed to a Nexus service is one the config package knows, each role
 * gets the secrets it refuses to start without, and HAProxy routes to services that exist.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { envSchema, parseConfig, type Role } from "@nexus/config";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
  volumes?: string[];
  stop_grace_period?: string;
}

const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const built = Object.entries(compose.services).filter(([, s]) => s.build);

describe("docker-compose.yml", () => {
  const known = new Set(Object.keys(envSchema.shape));

  it("runs the real topology: postgres, redis, an api node, two gateways and a proxy", () => {
    expect(compose.services.postgres?.healthcheck).toBeDefined();
    expect(compose.services.redis?.healthcheck).toBeDefined();
    const apps = built.map(([, s]) => s.build!.args?.APP);
    expect(apps.filter((a) => a === "gateway")).toHaveLength(2);
    expect(apps).toContain("api");
    expect(compose.services.haproxy).toBeDefined();
  });

  it("builds every Nexus service from an app that exists, with only known variables and the secrets its role needs", () => {
    for (const [name, svc] of built) {
      const dockerfile = join(root, svc.build!.context, svc.build!.dockerfile);
      expect(existsSync(dockerfile), `${name}: ${dockerfile}`).toBe(true);
      const app = svc.build!.args?.APP;
      expect(existsSync(join(root, "apps", app ?? "-", "src", "main.ts")), `${name}: app ${app}`).toBe(true);
      const env = svc.environment ?? {};
      for (const key of Object.keys(env))
        expect(known.has(key), `${name}: unknown variable ${key}`).toBe(true);
      for (const dep of Object.keys(svc.depends_on ?? {}))
        expect(compose.services[dep], `${name} → ${dep}`).toBeDefined();
      // Substitute the ${VAR:?…} placeholders with valid values, then ask the real config parser.
      const concrete = Object.fromEntries(
        Object.entries(env).map(([k, v]) => [
          k,
          v.startsWith("${JWT_SECRET")
            ? "x".repeat(48)
            : v.startsWith("${VAULT_KEY")
              ? Buffer.alloc(32, 1).toString("base64")
              : v,
        ]),
      );
      const result = parseConfig(app as Role, concrete);
      expect(result.ok, `${name}: ${result.ok ? "" : result.error.message}`).toBe(true);
    }
  });

  it("lets every gateway finish its SIGTERM drain before Docker kills it", () => {
    for (const [name, svc] of built.filter(([, s]) => s.build!.args?.APP === "gateway")) {
      const grace = /^(\d+)s$/.exec(svc.stop_grace_period ?? "");
      expect(grace, `${name}: stop_grace_period in seconds`).not.toBeNull();
      const env = Object.fromEntries(
        Object.entries(svc.environment ?? {}).map(([k, v]) => [k, v.startsWith("${") ? "x".repeat(48) : v]),
      );
      const cfg = parseConfig("gateway", { ...env, JWT_SECRET: "x".repeat(48) });
      expect(cfg.ok).toBe(true);
      // The drain, then a few seconds to close presence, the bus and the database.
      if (cfg.ok)
        expect(Number(grace![1]) * 1000, name).toBeGreaterThanOrEqual(cfg.config.drainTimeoutMs + 5_000);
    }
  });

  it("gives every gateway its own NODE_ID", () => {
    const ids = built
      .filter(([, s]) => s.build!.args?.APP === "gateway")
      .map(([, s]) => s.environment?.NODE_ID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("the Dockerfile runs the built bundle as a non-root user", () => {
    const text = readFileSync(join(root, "infra/docker/service.Dockerfile"), "utf8");
    expect(text).toMatch(/CMD \["node", "dist\/main\.js"\]/);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/--frozen-lockfile/);
  });

  it("the image caps glibc's malloc arenas as the benchmark measures the gateways", () => {
    const text = readFileSync(join(root, "infra/docker/service.Dockerfile"), "utf8");
    const bench = readFileSync(join(root, "loadtest/lib/gateways.ts"), "utf8");
    const image = /^ENV .*\bMALLOC_ARENA_MAX=(\d+)\b/m.exec(text)?.[1];
    expect(image).toBeDefined();
    expect(bench).toContain(`MALLOC_ARENA_MAX: "${image}"`);
  });
});

describe("infra/haproxy/haproxy.cfg", () => {
  const cfg = readFileSync(join(root, "infra/haproxy/haproxy.cfg"), "utf8");

  it("sends /socket/ to the gateways and the rest to the api, health-checked on /readyz", () => {
    expect(cfg).toMatch(/acl is_socket path_beg \/socket\//);
    expect(cfg).toMatch(/use_backend gateways if is_socket/);
    expect(cfg).toMatch(/default_backend api/);
    expect(cfg.match(/option httpchk GET \/readyz/g)).toHaveLength(2);
  });

  it("points every server at a compose service on the port it listens on", () => {
    const servers = [...cfg.matchAll(/^\s*server \S+ (\S+):(\d+)/gm)];
    expect(servers.length).toBeGreaterThanOrEqual(3);
    for (const [, host, port] of servers) {
      expect(compose.services[host!], `server ${host}`).toBeDefined();
      expect(compose.services[host!]!.environment?.PORT).toBe(port);
    }
  });

  it("is mounted into the proxy service", () => {
    expect(compose.services.haproxy?.volumes).toContain(
      "./infra/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro",
    );
  });
});

describe("root package.json scripts", () => {
  const scripts = (
    JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }
  ).scripts;

  it("run only bundles that their package's build produces", () => {
    // `node <pkg>/dist/<name>.js` must match a `nexus-build … src/<name>.ts` entry of that package.
    const runs = Object.entries(scripts).flatMap(([name, line]) =>
      [...line.matchAll(/node ((?:apps|packages|loadtest)\/?[\w-]*)\/dist\/([\w/-]+)\.js/g)].map(
        (m) => [name, m[1]!, m[2]!] as const,
      ),
    );
    expect(runs.length).toBeGreaterThanOrEqual(5);
    for (const [name, pkg, entry] of runs) {
      const build = (
        JSON.parse(readFileSync(join(root, pkg, "package.json"), "utf8")) as {
          scripts: Record<string, string>;
        }
      ).scripts.build!;
      const entries = build.split(/\s+/).map((w) => w.replace(/^src\//, "").replace(/\.ts$/, ""));
      expect(entries, `script ${name} runs ${pkg}/dist/${entry}.js`).toContain(entry);
    }
  });
});
