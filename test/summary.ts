// Prints the closing line CI reads ("tests: N passed, N failed, N skipped") from vitest's JSON
// report, plus the names of failed tests so the end of the log says what broke.
import { readFileSync } from "node:fs";

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: Array<{ name: string; assertionResults: Array<{ fullName: string; status: string }> }>;
}

const files = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
let missing = 0;
for (const file of files) {
  let r: Report;
  try {
    r = JSON.parse(readFileSync(file, "utf8")) as Report;
  } catch (e) {
    process.stdout.write(`no test report in ${file} (${(e as Error).message})\n`);
    missing++;
    continue;
  }
  for (const f of r.testResults) for (const a of f.assertionResults) if (a.status === "failed") process.stdout.write(`FAILED ${a.fullName}\n`);
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
}
process.stdout.write(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(missing > 0 || failed > 0 ? 1 : 0);
