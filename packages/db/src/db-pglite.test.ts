import { createDb } from "./client.js";
import { describeDatabase } from "./db.contract.js";

describeDatabase("pglite (in memory)", async () => {
  const handle = createDb({ kind: "pglite" });
  return { handle, dispose: () => handle.close() };
});
