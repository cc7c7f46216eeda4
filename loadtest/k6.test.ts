import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// k6 is not installable here: this proves the k6 scripts at least type-check against @types/k6.
describe("k6 scripts", () => {
  it("type-check against @types/k6 with no errors", () => {
    const configPath = fileURLToPath(new URL("./k6/tsconfig.json", import.meta.url));
    const parsed = ts.getParsedCommandLineOfConfigFile(
      configPath,
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
        },
      },
    );
    if (!parsed) throw new Error(`cannot read ${configPath}`);
    expect(parsed.fileNames.map((f) => f.split("/k6/")[1]).sort()).toEqual([
      "connect.js",
      "fanout.js",
      "idle.js",
      "lib/phoenix.js",
    ]);
    const program = ts.createProgram(parsed.fileNames, parsed.options);
    const errors = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file
        ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
        : "";
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
    expect([...parsed.errors.map((e) => String(e.messageText)), ...errors]).toEqual([]);
  }, 60_000);
});
