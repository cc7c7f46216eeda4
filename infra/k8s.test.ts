/**
 * The Kubernetes manifests (infra/k8s, applied with `kubectl apply -k infra/k8s`) are checked by
 * reading them, as no cluster runs where CI runs: kustomize lists every file, each Deployment's
 * environment holds only variables the config package knows and passes the real config parser
 * for its role (secrets substituted), probes hit /readyz and /livez on a declared port, and
 * every Service, Ingress path, PodDisruptionBudget and autoscaler points at something that exists.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { envSchema, parseConfig, type Role } from "@nexus/config";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const dir = fileURLToPath(new URL("./k8s/", import.meta.url));
// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
type Any = any;
type Doc = { kind: string; metadata: { name: string }; spec?: Any; data?: Record<string, string> };

const kustomization = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as {
  resources: string[];
  images: Array<{ name: string }>;
};
const docs: Doc[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((d) => d.toJS() as Doc),
);
const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
const named = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const known = new Set(Object.keys(envSchema.shape));

/** Valid stand-ins for what the Secret holds. */
const SECRET_VALUES: Record<string, string> = {
  JWT_SECRET: "x".repeat(48),
  VAULT_KEY: Buffer.alloc(32, 1).toString("base64"),
  DATABASE_URL: "postgres://nexus:secret@postgres:5432/nexus",
  ADMIN_TOKEN: "a".repeat(40),
  VAULT_PREVIOUS_KEYS: Buffer.alloc(32, 2).toString("base64"),
};

/** A container's environment as the pod sees it: ConfigMaps, then its own entries, secrets stood in. */
function containerEnv(deployment: string, container: Any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const cm = named("ConfigMap", from.configMapRef.name);
    expect(cm, from.configMapRef.name).toBeDefined();
    Object.assign(env, cm!.data);
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) env[e.name] = `${deployment}-7d9f8-abcde`;
    else if (e.valueFrom?.secretKeyRef) {
      expect(e.valueFrom.secretKeyRef.name).toBe("nexus-secrets");
      env[e.name] = SECRET_VALUES[e.valueFrom.secretKeyRef.key]!;
    }
  }
  return env;
}

describe("infra/k8s", () => {
  it("lists every manifest in kustomization.yaml", () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });

  it.each([
    ["nexus-api", "api"],
    ["nexus-gateway", "gateway"],
  ] as const)("%s: known variables only, accepted by the %s config with its secrets", (name, role: Role) => {
    const deployment = named("Deployment", name) as Any;
    expect(deployment, name).toBeDefined();
    const pod = deployment.spec.template;
    expect(pod.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    const [container] = pod.spec.containers;
    expect(kustomization.images.map((i) => i.name)).toContain(container.image);

    const env = containerEnv(name, container);
    for (const key of Object.keys(env)) expect(known.has(key), `${name}: unknown variable ${key}`).toBe(true);
    const result = parseConfig(role, env);
    expect(result.ok, result.ok ? "" : result.error.message).toBe(true);

    // Without the secrets the node refuses to start, naming them.
    const withoutSecrets = parseConfig(
      role,
      Object.fromEntries(Object.entries(env).filter(([k]) => !["JWT_SECRET", "VAULT_KEY"].includes(k))),
    );
    expect(withoutSecrets.ok).toBe(false);

    const ports = new Set(container.ports.map((p: Any) => p.name));
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(container.livenessProbe.httpGet).toEqual({ path: "/livez", port: "http" });
    expect(ports.has("http")).toBe(true);
    expect(container.ports.find((p: Any) => p.name === "http").containerPort).toBe(Number(env.PORT));
  });

  it("gives each gateway pod its own NODE_ID and time to drain", () => {
    const pod = (named("Deployment", "nexus-gateway") as Any).spec.template.spec;
    const [container] = pod.containers;
    const nodeId = container.env.find((e: Any) => e.name === "NODE_ID");
    expect(nodeId.valueFrom.fieldRef.fieldPath).toBe("metadata.name");

    // The grace period runs from the preStop hook: the hook's wait, then SIGTERM and the socket
    // drain (bounded by DRAIN_TIMEOUT_MS), then presence, bus and pool closing (allowed 5 s), all
    // before the kubelet's SIGKILL. A drain cut off there leaves its presences for the down period.
    const preStop = container.lifecycle.preStop.exec.command.join(" ");
    const preStopMs = Number(/setTimeout\([^,]+,\s*(\d+)\)/.exec(preStop)?.[1]);
    expect(preStopMs, preStop).toBeGreaterThan(0);
    const parsed = parseConfig("gateway", containerEnv("nexus-gateway", container));
    if (!parsed.ok) throw parsed.error;
    const { drainTimeoutMs } = parsed.config;
    expect(drainTimeoutMs).toBeGreaterThan(0);
    const TEARDOWN_MS = 5_000;
    expect(preStopMs + drainTimeoutMs + TEARDOWN_MS).toBeLessThanOrEqual(
      pod.terminationGracePeriodSeconds * 1000,
    );
  });

  it("has every pod scraped by Prometheus on /metrics at a port its container declares", () => {
    const deployments = byKind("Deployment") as Any[];
    expect(deployments.length).toBeGreaterThanOrEqual(2);
    for (const d of deployments) {
      const { annotations } = d.spec.template.metadata;
      expect(annotations?.["prometheus.io/scrape"], d.metadata.name).toBe("true");
      expect(annotations["prometheus.io/path"]).toBe("/metrics");
      const ports = d.spec.template.spec.containers.flatMap((c: Any) =>
        c.ports.map((p: Any) => String(p.containerPort)),
      );
      expect(ports, d.metadata.name).toContain(annotations["prometheus.io/port"]);
    }
  });

  it("points every Service, Ingress path, PDB and autoscaler at something that exists", () => {
    const deployments = byKind("Deployment") as Any[];
    const matches = (selector: Record<string, string>) =>
      deployments.filter((d) =>
        Object.entries(selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v),
      );
    for (const svc of byKind("Service") as Any[]) {
      const [target] = matches(svc.spec.selector);
      expect(target, `Service ${svc.metadata.name}`).toBeDefined();
      const portNames = target.spec.template.spec.containers[0].ports.map((p: Any) => p.name);
      for (const p of svc.spec.ports) expect(portNames).toContain(p.targetPort);
    }
    for (const pdb of byKind("PodDisruptionBudget") as Any[]) {
      expect(matches(pdb.spec.selector.matchLabels), `PDB ${pdb.metadata.name}`).toHaveLength(1);
    }
    for (const hpa of byKind("HorizontalPodAutoscaler") as Any[]) {
      expect(named("Deployment", hpa.spec.scaleTargetRef.name), `HPA ${hpa.metadata.name}`).toBeDefined();
    }
    const [ingress] = byKind("Ingress") as Any[];
    const paths = ingress.spec.rules.flatMap((r: Any) => r.http.paths);
    const backend = (path: string) => paths.find((p: Any) => p.path === path)?.backend.service;
    expect(backend("/socket")?.name).toBe("nexus-gateway");
    expect(backend("/")?.name).toBe("nexus-api");
    for (const p of paths) {
      const svc = named("Service", p.backend.service.name) as Any;
      expect(svc, p.backend.service.name).toBeDefined();
      expect(svc.spec.ports.map((x: Any) => x.name)).toContain(p.backend.service.port.name);
    }
  });
});
