import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, destination };
}

describe("createLogger", () => {
  it("writes JSON lines and redacts secrets at the top level and one level down", () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: "info", pretty: false, destination });
    log.info(
      {
        password: "hunter2hunter2",
        body: { new_password: "s3cret-new", email: "a@b.c" },
        headers: { authorization: "Bearer abc.def.ghi" },
        refresh_token: "opaque-refresh",
      },
      "login",
    );
    expect(lines).toHaveLength(1);
    const text = lines[0]!;
    for (const secret of ["hunter2hunter2", "s3cret-new", "abc.def.ghi", "opaque-refresh"]) {
      expect(text).not.toContain(secret);
    }
    const rec = JSON.parse(text);
    expect(rec.msg).toBe("login");
    expect(rec.body.email).toBe("a@b.c");
    expect(rec.password).toBe("[redacted]");
  });

  it("honours the level", () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: "warn", pretty: false, destination });
    log.info("hidden");
    log.warn("shown");
    expect(lines).toHaveLength(1);
  });
});
