// bench/replication's round-trip reference: a TCP echo server in its own process (as the peer
// host would be). Args: port. Prints "ready" once listening.
import { createServer } from "node:net";

const server = createServer((c) => {
  c.setNoDelay(true);
  c.on("data", (b: Buffer) => c.write(b));
});
server.listen(Number(process.argv[2]), "127.0.0.1", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => process.exit(0));
