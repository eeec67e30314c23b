/**
 * ESP in UDP (RFC 3948) on a node:dgram socket: datagrams whose first four bytes are a
 * non-zero SPI are ESP and go to the dataplane in batches; a single 0xff byte is a NAT
 * keepalive; a zero non-ESP marker means IKE (handed to `onIke`).
 * @module
 */
import dgram from "node:dgram";
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { DecapResult, SaHandle } from "../dataplane/types.ts";

/** Callbacks for what arrives on the socket. */
export interface EspUdpHandlers {
  /** Each batch of decapsulated (or dropped) ESP packets, in arrival order, with their senders. */
  onDecap(results: DecapResult[], from: { address: string; port: number }[]): void;
  /** IKE messages (the non-ESP marker removed). */
  onIke?(message: Uint8Array, from: { address: string; port: number }): void;
}

/** One UDP socket carrying ESP for a Dataplane. */
export class EspUdpEndpoint {
  readonly socket: dgram.Socket;
  /** NAT keepalives received. */
  keepalives = 0;
  readonly #dp: Dataplane;
  readonly #pending: { data: Uint8Array; from: { address: string; port: number } }[] = [];
  #scheduled = false;

  private constructor(dp: Dataplane, socket: dgram.Socket, handlers: EspUdpHandlers) {
    this.#dp = dp;
    this.socket = socket;
    socket.on("message", (msg, rinfo) => {
      if (msg.length === 1 && msg[0] === 0xff) {
        this.keepalives++;
        return;
      }
      const from = { address: rinfo.address, port: rinfo.port };
      if (msg.length >= 4 && msg.readUInt32BE(0) === 0) {
        // Arrival order holds across the demux: ESP that came before this IKE message is decapsulated
        // first. Otherwise a DELETE (or its response) could remove an SA while packets sent under it
        // still waited for the batch, and a rekey would lose them as no-sa.
        this.#flush(handlers);
        handlers.onIke?.(msg.subarray(4), from);
        return;
      }
      this.#pending.push({ data: msg, from });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // Everything that arrived in this turn of the event loop is decapsulated in one batch call.
        setImmediate(() => this.#flush(handlers));
      }
    });
  }

  #flush(handlers: EspUdpHandlers): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const items = this.#pending.splice(0);
    handlers.onDecap(
      this.#dp.decapsulateBatch(items.map((x) => x.data)),
      items.map((x) => x.from),
    );
  }

  /** Binds a UDP socket (address and port; port 0 picks a free one). */
  static async bind(dp: Dataplane, address: string, port: number, handlers: EspUdpHandlers): Promise<EspUdpEndpoint> {
    const socket = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, address, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    return new EspUdpEndpoint(dp, socket, handlers);
  }

  /** Local port. */
  get port(): number {
    return this.socket.address().port;
  }

  /** Encapsulates the packets with one SA (one wasm call per batch) and sends each as a datagram. Returns how many were sent. */
  send(sa: SaHandle, inners: Uint8Array[], address: string, port: number): number {
    let sent = 0;
    for (const r of this.#dp.encapsulateBatch(sa, inners)) {
      if (r.status !== "ok" || !r.packet) continue;
      this.socket.send(r.packet, port, address);
      sent++;
    }
    return sent;
  }

  /** Closes the socket. */
  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
