/**
 * @module
 * Prints one closing line, `N passed, N failed, N skipped`, from vitest's own counts.
 * CI reads that line; vitest's default summary is not one it recognises. A file that
 * fails to load (syntax error, failing beforeAll) counts as a failure, so a broken
 * suite can never print "0 failed".
 */
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let failedInModule = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failedInModule++;
        else skipped++;
      }
      // A module that errored outside any test still failed.
      if (failedInModule === 0 && mod.state() === "failed") failedInModule = 1;
      failed += failedInModule;
    }
    failed += unhandledErrors.length;
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
