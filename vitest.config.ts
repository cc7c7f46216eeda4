import { defineConfig } from "vitest/config";

// Two projects: `unit` (pure, no services) and `int` (*.int.test.ts: real Postgres and
// Redis, started once per run by the testkit global setup, or taken from DATABASE_URL /
// REDIS_URL). Every file gets its own database and Redis key prefix, so files run in parallel.
export default defineConfig({
  test: {
    reporters: ["default", "./packages/tooling/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["{apps,packages,loadtest,infra}/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "**/node_modules/**", "**/dist/**"],
        },
      },
      {
        test: {
          name: "int",
          include: ["{apps,packages,loadtest,infra}/**/*.int.test.ts"],
          exclude: ["**/node_modules/**", "**/dist/**"],
          globalSetup: ["./packages/testkit/src/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          pool: "forks",
        },
      },
    ],
  },
});
