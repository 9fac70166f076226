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

const file = process.argv[2] ?? ".lab/vitest.json";
let r: Report;
try {
  r = JSON.parse(readFileSync(file, "utf8")) as Report;
} catch (e) {
  process.stdout.write(`tests: no report in ${file} (${(e as Error).message})\n`);
  process.exit(1);
}
for (const f of r.testResults) for (const a of f.assertionResults) if (a.status === "failed") process.stdout.write(`FAILED ${a.fullName}\n`);
process.stdout.write(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped\n`);
