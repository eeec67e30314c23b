/**
 * Node transport for the IKE daemon: UDP 500 (plain IKE) and UDP 4500 (RFC 3948: IKE behind the
 * 4-byte non-ESP marker, ESP-in-UDP to the dataplane in batches, 0xff NAT keepalives). Any port
 * other than 500 is treated like 4500, as strongSwan does for custom ports.
 * @module
 */
import dgram from "node:dgram";
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { DecapResult } from "../dataplane/types.ts";
import type { IkeTransport } from "../ike/daemon.ts";
import type { Endpoint } from "../ike/ike-sa.ts";
import { EspUdpEndpoint } from "./esp-udp.ts";

/** Where received traffic goes. */
export interface IkeUdpHandlers {
  onIke(bytes: Uint8Array, local: Endpoint, remote: Endpoint): void;
  onEsp(results: DecapResult[], from: Endpoint[]): void;
}

const MARKER = new Uint8Array(4);

async function bindPlain(
  address: string,
  port: number,
  onMessage: (m: Buffer, r: dgram.RemoteInfo) => void,
): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: address.includes(":") ? "udp6" : "udp4", reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, address, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  socket.on("message", onMessage);
  return socket;
}

/** IKE and ESP-in-UDP sockets bound on one address. */
export class IkeUdpTransport implements IkeTransport {
  readonly natPort: number;
  readonly ikePort: number;
  readonly address: string;
  #ike?: dgram.Socket;
  #nat: EspUdpEndpoint;

  private constructor(address: string, ikePort: number, nat: EspUdpEndpoint, ike?: dgram.Socket) {
    this.address = address;
    this.#nat = nat;
    this.#ike = ike;
    this.natPort = nat.port;
    this.ikePort = ike ? ike.address().port : nat.port;
  }

  /**
   * Binds the sockets. `ikePort` 500 gets its own plain socket; with any other value (or when it
   * equals `natPort`) everything runs over the marker-framed NAT-T socket. Port 0 picks a free one.
   */
  static async bind(
    dp: Dataplane,
    opts: { address: string; ikePort: number; natPort: number },
    h: IkeUdpHandlers,
  ): Promise<IkeUdpTransport> {
    let natPort = 0;
    const nat = await EspUdpEndpoint.bind(dp, opts.address, opts.natPort, {
      onDecap: (results, from) => h.onEsp(results, from),
      onIke: (message, from) => h.onIke(new Uint8Array(message), { address: opts.address, port: natPort }, from),
    });
    natPort = nat.port;
    let ike: dgram.Socket | undefined;
    if (opts.ikePort !== opts.natPort && opts.ikePort === 500) {
      ike = await bindPlain(opts.address, opts.ikePort, (m, r) => {
        if (m.length === 1 && m[0] === 0xff) return;
        h.onIke(new Uint8Array(m), { address: opts.address, port: 500 }, { address: r.address, port: r.port });
      });
    } else if (opts.ikePort !== opts.natPort && opts.ikePort !== 0) {
      // A second custom port: framed like 4500 (strongSwan treats every non-500 port so).
      const extra = await EspUdpEndpoint.bind(dp, opts.address, opts.ikePort, {
        onDecap: (results, from) => h.onEsp(results, from),
        onIke: (message, from) => h.onIke(new Uint8Array(message), { address: opts.address, port: opts.ikePort }, from),
      });
      ike = extra.socket;
    }
    return new IkeUdpTransport(opts.address, opts.ikePort, nat, ike);
  }

  private socketFor(port: number): { s: dgram.Socket; marker: boolean } {
    if (this.#ike && port === this.ikePort) return { s: this.#ike, marker: port !== 500 };
    return { s: this.#nat.socket, marker: true };
  }

  sendIke(bytes: Uint8Array, local: Endpoint, remote: Endpoint): void {
    const { s, marker } = this.socketFor(local.port);
    const data = marker ? Buffer.concat([MARKER, bytes]) : bytes;
    s.send(data, remote.port, remote.address);
  }

  sendEsp(packets: Uint8Array[], _local: Endpoint, remote: Endpoint): void {
    for (const p of packets) this.#nat.socket.send(p, remote.port, remote.address);
  }

  /** One NAT keepalive (RFC 3948 §2.3: a single 0xff byte) from the NAT-T socket. */
  sendKeepalive(remote: Endpoint): void {
    this.#nat.socket.send(Uint8Array.of(0xff), remote.port, remote.address);
  }

  /** NAT keepalives received. */
  get keepalivesReceived(): number {
    return this.#nat.keepalives;
  }

  /** Closes both sockets. */
  async close(): Promise<void> {
    await this.#nat.close();
    if (this.#ike) await new Promise<void>((r) => this.#ike!.close(() => r()));
  }
}
