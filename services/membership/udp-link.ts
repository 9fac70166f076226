// A UDP ring link: one socket bound to this node's ring address, unicast to each peer.
//
// Built on Bun.udpSocket, not node:dgram. When a peer's port is closed (the peer died), the
// kernel queues an ICMP "port unreachable" as a pending error on our socket. Under Bun 1.4,
// node:dgram then silently stops sending and receiving on that socket for every peer (seen in
// the loopback lab: one dead node cut the other two off from each other). Bun.udpSocket
// instead reports the pending error as ECONNREFUSED from the next send, whatever its
// destination, and from the receive path; both are expected here: the send is retried once
// (the error was consumed by the failed call) and receive errors are counted, not fatal.
import type { udp } from "bun";

export interface Endpoint {
  address: string;
  port: number;
}

export class UdpLink {
  private socket: udp.Socket<"buffer"> | null = null;
  private readonly peers: Map<number, Endpoint>;
  /** ICMP errors reported by the kernel (a peer's port was closed): normal while a peer is down. */
  unreachable = 0;

  constructor(
    readonly name: string,
    private readonly local: Endpoint,
    peers: ReadonlyMap<number, Endpoint>,
    private readonly onPacket: (bytes: Uint8Array) => void,
    private readonly onError: (reason: string) => void,
  ) {
    this.peers = new Map(peers);
  }

  async open(): Promise<void> {
    try {
      this.socket = await Bun.udpSocket({
        hostname: this.local.address,
        port: this.local.port,
        socket: {
          data: (_s, buf) => this.onPacket(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)),
          // Bun 1.4 calls this with the error first, although its types declare (socket, error):
          // take whichever argument is the error.
          error: (a: unknown, b?: unknown) => {
            const err = (a instanceof Error ? a : b instanceof Error ? b : new Error(String(a))) as NodeJS.ErrnoException;
            if (err.code === "ECONNREFUSED") this.unreachable++;
            else this.onError(err.message);
          },
        },
      });
    } catch (e) {
      throw new Error(`${this.name}: cannot bind ${this.local.address}:${this.local.port}: ${(e as Error).message}`);
    }
  }

  send(to: readonly number[], bytes: Uint8Array): void {
    const s = this.socket;
    if (!s) return;
    for (const id of to) {
      const ep = this.peers.get(id);
      if (!ep) continue;
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          s.send(bytes, ep.port, ep.address);
          break;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "ECONNREFUSED") {
            this.unreachable++;
            continue; // a pending ICMP error from another peer, consumed now: send again
          }
          // No route while a link is down, and the like: the failure detector sees it.
          break;
        }
      }
    }
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }
}
