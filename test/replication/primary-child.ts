// The Primary of test/replication/kill-primary.test.ts, in its own process so the test can
// kill -9 it: a Volume (node 1) that waits for its peer, becomes Primary and serves NBD.
// Args: dataPath metaPath port keyHex socketPath. Prints "ready" when the export is up.
import { NbdServer } from "../../services/replication/nbd/server.ts";
import { Volume } from "../../services/replication/volume.ts";
import { ClusterKey } from "../../services/shared/wire.ts";

const [dataPath, metaPath, port, keyHex, socketPath] = process.argv.slice(2);
const v = await Volume.open({
  name: "vol0",
  dataPath: dataPath!,
  metaPath: metaPath!,
  nodeId: 1,
  peerId: 2,
  key: new ClusterKey(Buffer.from(keyHex!, "hex")),
  peerAddress: { host: "127.0.0.1", port: Number(port) },
});
while (v.core.repl !== "Established") await new Promise((r) => setTimeout(r, 10));
const p = v.promote();
if (!p.ok) throw new Error(p.message);
await new NbdServer({ socketPath: socketPath!, exportName: "vol0", backend: v }).listen();
process.stdout.write("ready\n");
