// Dev entry for the fence agent: `bun ipmi/fence-main.ts [options]` (the product wires the
// same function as `hapd fence`). Exit code as fence-agents: 0 ok, 1 failure, 2 status off.

import { runFenceAgent } from "./fence-agent.ts";

// A closed pipe (`... -o metadata | head`) is not an error worth a stack trace.
process.stdout.on("error", () => {});
const code = await runFenceAgent(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
// exitCode, not exit(): let stdout drain when it is a pipe.
process.exitCode = code;
