// The real ports' node commands, against a stand-in for the node's socket: the request on the
// wire (one JSON line) and the reply mapped to done / refused / no answer.
import { mkdtempSync, rmSync } from "node:fs";
import { type Server, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { realPorts } from "./ports.ts";

let dir: string;
let server: Server | null = null;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hapd-ports-"));
});
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
  rmSync(dir, { recursive: true, force: true });
});

/** A node socket that records each request and answers with `reply(request)`. */
async function node(reply: (req: Record<string, unknown>) => unknown): Promise<{ socket: string; requests: Array<Record<string, unknown>> }> {
  const socket = join(dir, "hapd.sock");
  const requests: Array<Record<string, unknown>> = [];
  server = createServer((sock) => {
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const req = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      requests.push(req);
      sock.end(`${JSON.stringify(reply(req))}\n`);
    });
  });
  await new Promise<void>((r) => server!.listen(socket, () => r()));
  return { socket, requests };
}

describe("real ports: node commands", () => {
  it("sends node-flags and resource commands as the node's socket expects them", async () => {
    const n = await node(() => ({ ok: true }));
    expect(await realPorts.setNodeFlags(n.socket, "host-b", { standby: true })).toEqual({ ok: true });
    expect(await realPorts.resourceCommand(n.socket, { action: "move", resource: "vm-db", node: "host-b" })).toEqual({ ok: true });
    expect(await realPorts.resourceCommand(n.socket, { action: "cleanup", resource: "vm-db" })).toEqual({ ok: true });
    expect(n.requests).toEqual([
      { cmd: "node-flags", node: "host-b", standby: true },
      { cmd: "resource", action: "move", resource: "vm-db", node: "host-b" },
      { cmd: "resource", action: "cleanup", resource: "vm-db" },
    ]);
  });

  it("passes a refusal's reason through, and rejects when no node answers", async () => {
    const n = await node(() => ({ ok: false, invalid: true, error: 'no resource named "vm-x"' }));
    expect(await realPorts.resourceCommand(n.socket, { action: "clear", resource: "vm-x" })).toEqual({ ok: false, error: 'no resource named "vm-x"' });
    await expect(realPorts.setNodeFlags(join(dir, "nothing.sock"), "host-a", { maintenance: true })).rejects.toThrow("no node is running there");
  });
});
