import { createTestDatabase } from "@nexus/testkit";
import { inject } from "vitest";
import { createDb } from "./client.js";
import { describeDatabase } from "./db.contract.js";

describeDatabase("postgres", async () => {
  // An empty database (not the migrated template): this suite runs the migrations itself.
  const test = await createTestDatabase(inject("pgAdminUrl"), { migrated: false });
  const handle = createDb({ kind: "postgres", url: test.url, poolSize: 4 });
  return {
    handle,
    async dispose() {
      await handle.close();
      await test.drop();
    },
  };
});
