// Development entry point: `bun services/crm/simulate-main.ts --cib FILE.xml [--show-graph]`
// (the same code as `hapd crm simulate`, without the CLI around it).
import { crmSimulate } from "./simulate-cli.ts";

process.exitCode = await crmSimulate(process.argv.slice(2));
