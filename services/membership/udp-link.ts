// A UDP ring link: one socket bound to this node's ring address, unicast to each peer.
import { type Socket, createSocket } from "node:dgram";

export interface Endpoint {
  address: string;
  port: number;
}

export class UdpLink {
  private socket: Socket | null = null;
  private readonly peers: Map<number, Endpoint>;

  constructor(
    readonly name: string,
    private readonly local: Endpoint,
    peers: ReadonlyMap<number, Endpoint>,
    private readonly onPacket: (bytes: Uint8Array) => void,
    private readonly onError: (reason: string) => void,
  ) {
    this.peers = new Map(peers);
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = createSocket({ type: "udp4", reuseAddr: false });
      let bound = false;
      s.on("message", (msg) => this.onPacket(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength)));
      s.on("error", (err) => {
        if (!bound) reject(new Error(`${this.name}: cannot bind ${this.local.address}:${this.local.port}: ${err.message}`));
        else this.onError(err.message);
      });
      s.bind(this.local.port, this.local.address, () => {
        bound = true;
        this.socket = s;
        resolve();
      });
    });
  }

  send(to: readonly number[], bytes: Uint8Array): void {
    const s = this.socket;
    if (!s) return;
    for (const id of to) {
      const ep = this.peers.get(id);
      // Send errors (no route while a link is down) are expected; the failure detector sees them.
      if (ep) s.send(bytes, ep.port, ep.address, () => undefined);
    }
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }
}
