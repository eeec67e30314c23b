/**
 * Deno transport for the IKE daemon on `Deno.listenDatagram` (needs `--unstable-net` and
 * `--allow-net`): the same framing as the Node adapter — port 500 plain IKE, every other port
 * RFC 3948 (non-ESP marker for IKE, ESP-in-UDP to the dataplane, 0xff keepalives).
 * @module
 */
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { DecapResult } from "../dataplane/types.ts";
import type { IkeTransport } from "../ike/daemon.ts";
import type { Endpoint } from "../ike/ike-sa.ts";

interface NetAddr {
  hostname: string;
  port: number;
  transport: "udp";
}
interface DatagramConn extends AsyncIterable<[Uint8Array, NetAddr]> {
  readonly addr: NetAddr;
  send(p: Uint8Array, addr: NetAddr): Promise<number>;
  close(): void;
}
interface DenoNet {
  listenDatagram(o: { transport: "udp"; hostname: string; port: number }): DatagramConn;
}

/** Where received traffic goes. */
export interface DenoIkeHandlers {
  onIke(bytes: Uint8Array, local: Endpoint, remote: Endpoint): void;
  onEsp(results: DecapResult[], from: Endpoint[]): void;
}

/** IKE and ESP-in-UDP sockets on one address, for Deno. */
export class DenoIkeUdpTransport implements IkeTransport {
  readonly natPort: number;
  readonly ikePort: number;
  #nat: DatagramConn;
  #ike?: DatagramConn;
  keepalivesReceived = 0;

  private constructor(nat: DatagramConn, ike?: DatagramConn) {
    this.#nat = nat;
    this.#ike = ike;
    this.natPort = nat.addr.port;
    this.ikePort = ike ? ike.addr.port : nat.addr.port;
  }

  /** Binds and starts the receive loops. Port 0 picks a free one. */
  static bind(
    dp: Dataplane,
    opts: { address: string; ikePort: number; natPort: number },
    h: DenoIkeHandlers,
  ): DenoIkeUdpTransport {
    const deno = (globalThis as { Deno?: DenoNet }).Deno;
    if (!deno?.listenDatagram)
      throw new Error("Deno.listenDatagram is unavailable: run deno with --unstable-net --allow-net");
    const nat = deno.listenDatagram({ transport: "udp", hostname: opts.address, port: opts.natPort });
    const ike =
      opts.ikePort !== opts.natPort && opts.ikePort !== 0
        ? deno.listenDatagram({ transport: "udp", hostname: opts.address, port: opts.ikePort })
        : undefined;
    const t = new DenoIkeUdpTransport(nat, ike);
    void t.loop(nat, true, dp, opts.address, h);
    if (ike) void t.loop(ike, ike.addr.port !== 500, dp, opts.address, h);
    return t;
  }

  private async loop(
    conn: DatagramConn,
    marker: boolean,
    dp: Dataplane,
    address: string,
    h: DenoIkeHandlers,
  ): Promise<void> {
    const local = { address, port: conn.addr.port };
    let pending: { data: Uint8Array; from: Endpoint }[] = [];
    let scheduled = false;
    try {
      for await (const [data, addr] of conn) {
        const from = { address: addr.hostname, port: addr.port };
        if (data.length === 1 && data[0] === 0xff) {
          this.keepalivesReceived++;
          continue;
        }
        if (!marker) {
          h.onIke(data, local, from);
          continue;
        }
        if (data.length >= 4 && data[0] === 0 && data[1] === 0 && data[2] === 0 && data[3] === 0) {
          h.onIke(data.subarray(4), local, from);
          continue;
        }
        pending.push({ data, from });
        if (!scheduled) {
          scheduled = true;
          // Everything that arrived before the next macrotask is decapsulated in one batch call.
          setTimeout(() => {
            scheduled = false;
            const items = pending;
            pending = [];
            h.onEsp(
              dp.decapsulateBatch(items.map((x) => x.data)),
              items.map((x) => x.from),
            );
          }, 0);
        }
      }
    } catch {
      // The socket was closed.
    }
  }

  private connFor(port: number): { c: DatagramConn; marker: boolean } {
    if (this.#ike && port === this.ikePort) return { c: this.#ike, marker: port !== 500 };
    return { c: this.#nat, marker: true };
  }

  sendIke(bytes: Uint8Array, local: Endpoint, remote: Endpoint): void {
    const { c, marker } = this.connFor(local.port);
    const data = marker ? new Uint8Array(4 + bytes.length) : bytes;
    if (marker) data.set(bytes, 4);
    void c.send(data, { transport: "udp", hostname: remote.address, port: remote.port });
  }

  sendEsp(packets: Uint8Array[], _local: Endpoint, remote: Endpoint): void {
    for (const p of packets) void this.#nat.send(p, { transport: "udp", hostname: remote.address, port: remote.port });
  }

  sendKeepalive(remote: Endpoint): void {
    void this.#nat.send(Uint8Array.of(0xff), { transport: "udp", hostname: remote.address, port: remote.port });
  }

  /** Closes the sockets (their receive loops end). */
  close(): void {
    this.#nat.close();
    this.#ike?.close();
  }
}
