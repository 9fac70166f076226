// One side of bench/replication's replicated volume, in its own process as on its own host:
// a Volume that connects to the other side and, given an NBD socket, waits for the connection,
// becomes Primary and serves the volume there. Node id 1 listens, 2 dials.
// Args: dataPath metaPath port keyHex encrypt|mac-only nodeId [nbdSocket]. Prints "ready" when
// it serves (Primary) or has started (Secondary); stops on SIGTERM.
import { NbdServer } from "../../services/replication/nbd/server.ts";
import { Volume } from "../../services/replication/volume.ts";
import { ClusterKey } from "../../services/shared/wire.ts";

const [dataPath, metaPath, port, keyHex, mode, node, nbdSocket] = process.argv.slice(2);
const nodeId = Number(node ?? 2);
const v = await Volume.open({
  name: "vol0",
  dataPath: dataPath!,
  metaPath: metaPath!,
  nodeId,
  peerId: 3 - nodeId,
  key: new ClusterKey(Buffer.from(keyHex!, "hex")),
  peerAddress: { host: "127.0.0.1", port: Number(port) },
  linkEncryption: mode !== "mac-only",
  // The bench has no cluster to record the peer Outdated; fencing is not on the write path.
  config: { fencing: "none" },
});
let server: NbdServer | null = null;
if (nbdSocket) {
  for (let i = 0; i < 1000 && v.core.repl !== "Established"; i++) await new Promise((r) => setTimeout(r, 10));
  const p = v.promote();
  if (!p.ok) throw new Error(`promotion failed: ${p.message}`);
  server = new NbdServer({ socketPath: nbdSocket, exportName: "vol0", backend: v });
  await server.listen();
}
process.stdout.write("ready\n");
process.on("SIGTERM", () => void (async () => {
  await server?.close();
  await v.close();
  process.exit(0);
})());
