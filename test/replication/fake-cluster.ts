// A stand-in for the cluster service's socket (run_dir/hapd.sock) with the node-attribute
// commands the volume service uses: `node-attr` (set/clear, reply once "committed") and
// `node-attr-get`. `mode` simulates a cluster without quorum (refuses) or one that is gone.
import { chmodSync, rmSync } from "node:fs";
import { type Server, createServer } from "node:net";

export class FakeCluster {
  readonly attrs = new Map<string, string>();
  readonly requests: Array<{ cmd: string; node?: string; name?: string; value?: string | null; answered: boolean }> = [];
  mode: "ok" | "refuse" | "silent" = "ok";
  private readonly servers: Server[] = [];

  /** One cluster (one attribute table) answering on every path given: one per node's run_dir. */
  constructor(readonly path: string, private readonly more: string[] = []) {}

  async start(): Promise<void> {
    for (const p of [this.path, ...this.more]) await this.listenOn(p);
  }

  private async listenOn(path: string): Promise<void> {
    rmSync(path, { force: true });
    const server = createServer((sock) => {
      let buf = "";
      sock.setEncoding("utf8");
      sock.on("data", (d: string) => {
        buf += d;
        const nl = buf.indexOf("\n");
        if (nl < 0) return;
        const req = JSON.parse(buf.slice(0, nl)) as { cmd: string; node: string; name: string; value?: string | null };
        const rec = { ...req, answered: this.mode === "ok" };
        this.requests.push(rec);
        if (this.mode === "silent") return; // never answers: the client's timeout must hold
        if (this.mode === "refuse") return void sock.end(`${JSON.stringify({ ok: false, error: "no quorum: the CIB cannot commit" })}\n`);
        const key = `${req.node}/${req.name}`;
        if (req.cmd === "node-attr") {
          if (req.value === null || req.value === undefined) this.attrs.delete(key);
          else this.attrs.set(key, req.value);
          return void sock.end(`${JSON.stringify({ ok: true })}\n`);
        }
        if (req.cmd === "node-attr-get") return void sock.end(`${JSON.stringify({ ok: true, value: this.attrs.get(key) ?? null })}\n`);
        sock.end(`${JSON.stringify({ ok: false, error: `unknown command ${req.cmd}` })}\n`);
      });
      sock.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(path, () => r()));
    chmodSync(path, 0o600);
    this.servers.push(server);
  }

  async stop(): Promise<void> {
    for (const s of this.servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
    for (const p of [this.path, ...this.more]) rmSync(p, { force: true });
  }
}
