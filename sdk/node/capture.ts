/**
 * Capture tap: pcap files of what an ipsec-wasm process sends and receives, for debugging with
 * Wireshark. The ciphertext file holds every IKE and ESP-in-UDP datagram as it went over the
 * socket, inside a synthetic IPv4/IPv6 + UDP header with the real addresses and ports (so
 * Wireshark's UDP-encapsulation dissector applies, and with the `esp_sa` /
 * `ikev2_decryption_table` files of sdk/diag/wireshark.ts it decrypts them). The plaintext file
 * holds the inner packets entering and leaving the Child SAs. Both are classic pcap with
 * LINKTYPE_RAW, written record by record so a crashed process still leaves a readable file.
 * @module
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { inetChecksum } from "../packet/icmp.ts";
import { parseIp } from "../net/ip.ts";
import { LINKTYPE_RAW, writePcap } from "../pcap/pcap.ts";
import type { IkeTransport } from "../ike/daemon.ts";
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { Endpoint } from "../ike/ike-sa.ts";

/** The 4 zero bytes that mark IKE on a NAT-T port (RFC 3948 §2.2). */
const NON_ESP_MARKER = new Uint8Array(4);
const IKE_PORT = 500;
const UDP = 17;

/** A classic pcap file written one record at a time (synchronously: captures are for debugging). */
export class PcapWriter {
  #fd: number | undefined;
  /** Records written so far. */
  packets = 0;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Creates (or truncates) `path` (mode 0600: captures may hold plaintext) and writes the file header. */
  static open(path: string, linkType = LINKTYPE_RAW): PcapWriter {
    const fd = openSync(path, "w", 0o600);
    writeSync(fd, writePcap({ linkType, records: [] }));
    return new PcapWriter(fd);
  }

  /** Appends one packet stamped with `timeMs` (default now, to the microsecond). Ignored after close. */
  write(packet: Uint8Array, timeMs = performance.timeOrigin + performance.now()): void {
    if (this.#fd === undefined) return;
    const tsSec = Math.floor(timeMs / 1000);
    const rec = writePcap({
      linkType: LINKTYPE_RAW,
      records: [{ tsSec, tsFrac: Math.min(999_999, Math.round((timeMs - tsSec * 1000) * 1000)), data: packet }],
    });
    writeSync(this.#fd, rec, 24);
    this.packets++;
  }

  /** Closes the file. */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/**
 * An IP packet carrying `payload` in UDP from `src` to `dst` (IPv4 or IPv6 by the address form),
 * with correct lengths and checksums (the UDP checksum too, which IPv6 requires).
 */
export function udpPacket(src: Endpoint, dst: Endpoint, payload: Uint8Array): Uint8Array {
  const s = parseIp(src.address),
    d = parseIp(dst.address);
  if (!s || !d || s.length !== d.length)
    throw new RangeError(`cannot build a UDP packet from ${src.address} to ${dst.address}`);
  const v6 = s.length === 16;
  const udpLen = 8 + payload.length;
  const udp = new Uint8Array(udpLen);
  const u = new DataView(udp.buffer);
  u.setUint16(0, src.port);
  u.setUint16(2, dst.port);
  u.setUint16(4, udpLen);
  udp.set(payload, 8);
  // Pseudo-header (RFC 768 / RFC 8200 §8.1) followed by the datagram.
  const pseudo = new Uint8Array((v6 ? 40 : 12) + udpLen);
  pseudo.set(s, 0);
  pseudo.set(d, s.length);
  const p = new DataView(pseudo.buffer);
  if (v6) {
    p.setUint32(32, udpLen);
    p.setUint8(39, UDP);
  } else {
    p.setUint8(9, UDP);
    p.setUint16(10, udpLen);
  }
  pseudo.set(udp, v6 ? 40 : 12);
  u.setUint16(6, inetChecksum(pseudo) || 0xffff);
  const hdr = new Uint8Array(v6 ? 40 : 20);
  const h = new DataView(hdr.buffer);
  if (v6) {
    h.setUint32(0, 0x60000000);
    h.setUint16(4, udpLen);
    h.setUint8(6, UDP);
    h.setUint8(7, 64);
    hdr.set(s, 8);
    hdr.set(d, 24);
  } else {
    h.setUint8(0, 0x45);
    h.setUint16(2, 20 + udpLen);
    h.setUint8(6, 0x40); // DF
    h.setUint8(8, 64);
    h.setUint8(9, UDP);
    hdr.set(s, 12);
    hdr.set(d, 16);
    h.setUint16(10, inetChecksum(hdr));
  }
  const out = new Uint8Array(hdr.length + udpLen);
  out.set(hdr);
  out.set(udp, hdr.length);
  return out;
}

/** Where the tap writes; either file may be absent. */
export interface CaptureFiles {
  /** pcap of the IKE and ESP-in-UDP datagrams (ciphertext side). */
  cipher?: string;
  /** pcap of the inner packets (plaintext side). */
  plain?: string;
}

/** Writes what a session sends and receives into pcap files. */
export class CaptureTap {
  readonly #cipher?: PcapWriter;
  readonly #plain?: PcapWriter;

  constructor(files: CaptureFiles) {
    this.#cipher = files.cipher ? PcapWriter.open(files.cipher) : undefined;
    this.#plain = files.plain ? PcapWriter.open(files.plain) : undefined;
  }

  /** Datagrams written to the ciphertext file. */
  get cipherPackets(): number {
    return this.#cipher?.packets ?? 0;
  }
  /** Packets written to the plaintext file. */
  get plainPackets(): number {
    return this.#plain?.packets ?? 0;
  }

  /**
   * One IKE message (without marker) between two endpoints. `localPort` is our socket's port:
   * every socket but 500 frames IKE behind the non-ESP marker, and the capture shows it as sent.
   */
  ike(bytes: Uint8Array, src: Endpoint, dst: Endpoint, localPort: number): void {
    if (!this.#cipher) return;
    this.#cipher.write(udpPacket(src, dst, localPort !== IKE_PORT ? concat(NON_ESP_MARKER, bytes) : bytes));
  }

  /** One UDP datagram exactly as it went over the socket (ESP-in-UDP, or a NAT keepalive). */
  datagram(bytes: Uint8Array, src: Endpoint, dst: Endpoint): void {
    this.#cipher?.write(udpPacket(src, dst, bytes));
  }

  /** One inner packet (an IP packet entering or leaving a Child SA). */
  inner(packet: Uint8Array): void {
    this.#plain?.write(packet);
  }

  /** Closes both files. */
  close(): void {
    this.#cipher?.close();
    this.#plain?.close();
  }
}

/**
 * Wraps a transport so every datagram it sends also goes to the tap. `localAddress` replaces a
 * wildcard bind address in the capture (the kernel picks the real source; we record our best name
 * for it). Receiving is tapped where datagrams arrive (see the CLI session).
 */
export function tapTransport(t: IkeTransport, tap: CaptureTap, localAddress: string): IkeTransport {
  const from = (local: Endpoint, port = local.port): Endpoint => ({
    address: isWildcard(local.address) ? localAddress : local.address,
    port,
  });
  return {
    get natPort() {
      return t.natPort;
    },
    sendIke(bytes, local, remote) {
      tap.ike(bytes, from(local), remote, local.port);
      t.sendIke(bytes, local, remote);
    },
    sendEsp(packets, local, remote) {
      // ESP always leaves from the NAT-T socket, whatever port the IKE SA's local endpoint names.
      for (const p of packets) tap.datagram(p, from(local, t.natPort), remote);
      t.sendEsp(packets, local, remote);
    },
    sendKeepalive:
      t.sendKeepalive &&
      ((remote) => {
        tap.datagram(Uint8Array.of(0xff), { address: localAddress, port: t.natPort }, remote);
        t.sendKeepalive!(remote);
      }),
  };
}

/**
 * A view of `dp` for the socket and daemon side that records what passes through it: the raw
 * datagrams handed to `decapsulateBatch` (kept until {@link arrived} takes them, because the
 * sender addresses only reach the receive handler afterwards), the inner packets it delivers,
 * and the inner packets given to `encapsulateBatch`. Every other member is the dataplane's own.
 * Needed because the UDP transport does not expose its sockets; a datagram hook there would
 * make this unnecessary.
 */
export function tapDataplane(dp: Dataplane, tap: CaptureTap): { dataplane: Dataplane; arrived(): Uint8Array[] } {
  let pending: Uint8Array[] = [];
  const decapsulateBatch: Dataplane["decapsulateBatch"] = (packets, l3) => {
    pending = packets.map((p) => p.slice());
    const results = dp.decapsulateBatch(packets, l3);
    // Dummy packets (Next Header 59, RFC 4303 §2.6) carry no inner packet.
    for (const r of results) if (r.status === "ok" && r.payload && r.nextHeader !== 59) tap.inner(r.payload);
    return results;
  };
  const encapsulateBatch: Dataplane["encapsulateBatch"] = (h, inners) => {
    for (const p of inners) tap.inner(p);
    return dp.encapsulateBatch(h, inners);
  };
  const dataplane = new Proxy(dp, {
    get(target, prop) {
      if (prop === "decapsulateBatch") return decapsulateBatch;
      if (prop === "encapsulateBatch") return encapsulateBatch;
      // The dataplane keeps its state in private fields: members must see the real object as `this`.
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return {
    dataplane,
    arrived: () => {
      const a = pending;
      pending = [];
      return a;
    },
  };
}

function isWildcard(a: string): boolean {
  return a === "0.0.0.0" || a === "::" || a === "";
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
