// The Secondary of bench/replication in its own process (as on the other host): a Volume with
// node id 2 that dials the Primary. Args: dataPath metaPath port keyHex [mac-only]. Stops on SIGTERM.
import { Volume } from "../../services/replication/volume.ts";
import { ClusterKey } from "../../services/shared/wire.ts";

const [dataPath, metaPath, port, keyHex, mode] = process.argv.slice(2);
const v = await Volume.open({
  name: "vol0",
  dataPath: dataPath!,
  metaPath: metaPath!,
  nodeId: 2,
  peerId: 1,
  key: new ClusterKey(Buffer.from(keyHex!, "hex")),
  peerAddress: { host: "127.0.0.1", port: Number(port) },
  linkEncryption: mode !== "mac-only",
});
process.stdout.write("ready\n");
process.on("SIGTERM", () => void v.close().then(() => process.exit(0)));
