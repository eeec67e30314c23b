/**
 * A UDP socket driven through libc with recvmmsg/sendmmsg: one system call per batch. Every
 * structure the kernel reads (mmsghdr and iovec arrays, sockaddrs, receive buffers) is allocated
 * once in native memory; a batch only writes lengths and addresses into them. Receive buffers are
 * native slots; sends point their iovecs anywhere (the packet worker points them straight into the
 * wasm arena, so the ciphertext is never copied in userspace).
 * @module
 */
import { IoError } from "./errors.ts";
import {
  AF_INET,
  AF_INET6,
  EAGAIN,
  EINTR,
  IP_MTU_DISCOVER,
  IP_PMTUDISC_DONT,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_MTU_DISCOVER,
  IOVEC,
  MMSGHDR,
  MSG_DONTWAIT,
  SO_ATTACH_REUSEPORT_CBPF,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCKADDR,
  SOL_SOCKET,
  readSockaddr,
  writeSockaddr,
  type Libc,
  type NativeBlock,
} from "./libc.ts";
import { parseIp } from "../net/ip.ts";

/** Socket buffer size asked for (SO_*BUFFORCE as root, else capped by net.core.*mem_max). */
const SOCKET_BUFFER = 4 << 20;
/** Destination sockaddrs kept (one per peer endpoint). */
const MAX_DESTS = 256;
/** SOL_UDP, UDP_SEGMENT (Linux 4.18): one send of equal-size datagrams, split by the kernel (GSO). */
const SOL_UDP = 17,
  UDP_SEGMENT = 103,
  UDP_GRO = 104;
/** Receive slot with UDP GRO: a coalesced run of datagrams is up to 64 KiB. */
const GRO_SLOT = 65536;
/** Segments per GSO send (the kernel's UDP_MAX_SEGMENTS is 64 on older kernels) and bytes (IP's 64 KiB). */
const GSO_MAX_SEGMENTS = 64,
  GSO_MAX_BYTES = 65000;
/** CMSG_SPACE(sizeof(u16)) on LP64: a 16-byte cmsghdr, 2 bytes of data, aligned to 8. */
const CMSG = 24;

/**
 * Classic BPF for the SO_REUSEPORT group of the NAT-T port (the kernel runs it with the data at
 * the UDP payload and takes its result as the index of the socket in the group): payloads shorter
 * than 4 bytes (keepalives) and those starting with the zero non-ESP marker (IKE, RFC 3948) go
 * to socket 0, ESP to socket 1. With one inbound worker this is the "shard by SPI" of issue 15
 * with one shard; more would `ld [0]` and take the SPI modulo the number of inbound sockets.
 * Rows: [code, jt, jf, k].
 */
export const STEER_ESP_PROGRAM: readonly (readonly [number, number, number, number])[] = [
  [0x80, 0, 0, 0], // ld #len
  [0x35, 0, 3, 4], // jge #4 ? next : ret 0
  [0x20, 0, 0, 0], // ld [0] (32 bits, network order)
  [0x15, 1, 0, 0], // jeq #0 ? ret 0 : next
  [0x06, 0, 0, 1], // ret #1
  [0x06, 0, 0, 0], // ret #0
];

function attachSteering(libc: Libc, fd: number): void {
  const prog = libc.alloc(16 + STEER_ESP_PROGRAM.length * 8);
  try {
    const v = prog.view,
      filter = prog.address + 16;
    v.setUint16(0, STEER_ESP_PROGRAM.length, true);
    setPtr(v, 8, filter);
    STEER_ESP_PROGRAM.forEach(([code, jt, jf, k], i) => {
      v.setUint16(16 + i * 8, code, true);
      v.setUint8(16 + i * 8 + 2, jt);
      v.setUint8(16 + i * 8 + 3, jf);
      v.setUint32(16 + i * 8 + 4, k, true);
    });
    if (libc.setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, prog.address, 16) < 0) {
      throw new IoError("SOCKET", `SO_ATTACH_REUSEPORT_CBPF: ${libc.strerror(libc.errno())}`);
    }
  } finally {
    prog.free();
  }
}

/** Writes a 64-bit pointer or size from a number (no BigInt: nothing allocated per packet). */
export function setPtr(v: DataView, off: number, value: number): void {
  const hi = Math.floor(value / 0x100000000);
  v.setUint32(off, value - hi * 0x100000000, true);
  v.setUint32(off + 4, hi, true);
}

/** A bound UDP socket with preallocated batch structures. */
export class MmsgSocket {
  readonly fd: number;
  readonly port: number;
  /** Receive slots: datagram i is `rxBytes[rxOffset(i) .. + rxLength(i)]`. */
  readonly rxBytes: Uint8Array;
  readonly slotBytes: number;
  readonly batch: number;
  readonly #libc: Libc;
  readonly #rxVec: NativeBlock;
  readonly #rxIov: NativeBlock;
  readonly #rxNames: NativeBlock;
  readonly #rxData: NativeBlock;
  readonly #txVec: NativeBlock;
  readonly #txIov: NativeBlock;
  readonly #dests: NativeBlock;
  readonly #destIndex = new Map<string, [number, number]>();
  readonly #scratch: NativeBlock;
  /** GSO messages: one mmsghdr and one cmsg per run of equal-size datagrams to one destination. */
  readonly #gsoVec: NativeBlock;
  readonly #gsoCmsg: NativeBlock;
  readonly #txLen: Int32Array;
  readonly #txDest: Float64Array;
  /** Datagrams in GSO message m of the last send. */
  readonly #gsoCount: Int32Array;
  /** UDP GSO: on until the kernel refuses it once (then every datagram is its own message again). */
  gso = true;
  /** UDP GRO (UDP_GRO): a received message may hold a run of equal-size datagrams, see {@link rxSegment}. */
  readonly gro: boolean;
  /** Bytes of a receive slot (64 KiB with GRO, else slotBytes). */
  readonly rxSlotBytes: number;
  /** One cmsg (CMSG_SPACE(int)) per received message: the UDP_GRO segment size. */
  readonly #rxCmsg?: NativeBlock;
  #closed = false;

  private constructor(libc: Libc, fd: number, port: number, batch: number, slotBytes: number, gro = false) {
    this.#libc = libc;
    this.fd = fd;
    this.port = port;
    this.batch = batch;
    this.slotBytes = slotBytes;
    this.gro = gro;
    const rxSlot = gro ? GRO_SLOT : slotBytes;
    this.rxSlotBytes = rxSlot;
    this.#rxVec = libc.alloc(batch * MMSGHDR);
    this.#rxIov = libc.alloc(batch * IOVEC);
    this.#rxNames = libc.alloc(batch * SOCKADDR);
    this.#rxData = libc.alloc(batch * rxSlot);
    if (gro) this.#rxCmsg = libc.alloc(batch * CMSG);
    this.#txVec = libc.alloc(batch * MMSGHDR);
    this.#txIov = libc.alloc(batch * IOVEC);
    this.#dests = libc.alloc(MAX_DESTS * SOCKADDR);
    this.#scratch = libc.alloc(slotBytes + 64);
    this.#gsoVec = libc.alloc(batch * MMSGHDR);
    this.#gsoCmsg = libc.alloc(batch * CMSG);
    this.#txLen = new Int32Array(batch);
    this.#txDest = new Float64Array(batch);
    this.#gsoCount = new Int32Array(batch);
    for (let i = 0; i < batch; i++) {
      const c = this.#gsoCmsg.view,
        o = i * CMSG;
      setPtr(c, o, 18); // cmsg_len = CMSG_LEN(2)
      c.setInt32(o + 8, SOL_UDP, true);
      c.setInt32(o + 12, UDP_SEGMENT, true);
    }
    this.rxBytes = this.#rxData.bytes;
    // Receive side: fixed iovecs (slot i) and names; only msg_namelen is reset per call.
    for (let i = 0; i < batch; i++) {
      const m = i * MMSGHDR,
        v = this.#rxVec.view,
        iov = this.#rxIov.view;
      iov.setBigUint64(i * IOVEC, BigInt(this.#rxData.address + i * rxSlot), true);
      iov.setBigUint64(i * IOVEC + 8, BigInt(rxSlot), true);
      if (this.#rxCmsg) v.setBigUint64(m + 32, BigInt(this.#rxCmsg.address + i * CMSG), true);
      v.setBigUint64(m, BigInt(this.#rxNames.address + i * SOCKADDR), true);
      v.setUint32(m + 8, SOCKADDR, true);
      v.setBigUint64(m + 16, BigInt(this.#rxIov.address + i * IOVEC), true);
      v.setBigUint64(m + 24, 1n, true);
      const t = this.#txVec.view;
      t.setBigUint64(m + 16, BigInt(this.#txIov.address + i * IOVEC), true);
      t.setBigUint64(m + 24, 1n, true);
    }
  }

  /**
   * Creates and binds a socket on `address`:`port` (0: any free port). `reusePort`: join the
   * SO_REUSEPORT group of the other workers' sockets on that port; `steer`: attach the program
   * that sends ESP (first 4 bytes a non-zero SPI) to the group's second socket and everything else
   * (IKE behind its zero marker, keepalives) to the first (see {@link STEER_ESP_PROGRAM}).
   */
  static open(
    libc: Libc,
    address: string,
    port: number,
    batch: number,
    slotBytes: number,
    opts: { reusePort?: boolean; steer?: boolean; gro?: boolean } = {},
  ): MmsgSocket {
    const ip = parseIp(address);
    if (!ip) throw new IoError("ARGUMENT", `'${address}' is not an IP address to bind the ESP-in-UDP socket to`);
    const fd = libc.socket(ip.length === 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new IoError("SOCKET", `socket(): ${libc.strerror(libc.errno())}`);
    const tmp = libc.alloc(SOCKADDR + 8);
    try {
      const opt = (level: number, name: number, value: number): number => {
        tmp.view.setInt32(SOCKADDR, value, true);
        return libc.setsockopt(fd, level, name, tmp.address + SOCKADDR, 4);
      };
      opt(SOL_SOCKET, SO_REUSEADDR, 1);
      if (opts.reusePort && opt(SOL_SOCKET, SO_REUSEPORT, 1) < 0)
        throw new IoError("SOCKET", `SO_REUSEPORT: ${libc.strerror(libc.errno())}`);
      // Root may exceed net.core.rmem_max: a burst of 64-packet batches must not overflow the queue.
      if (opt(SOL_SOCKET, SO_RCVBUFFORCE, SOCKET_BUFFER) < 0) opt(SOL_SOCKET, SO_RCVBUF, SOCKET_BUFFER);
      if (opt(SOL_SOCKET, SO_SNDBUFFORCE, SOCKET_BUFFER) < 0) opt(SOL_SOCKET, SO_SNDBUF, SOCKET_BUFFER);
      // The inner packet was sized for the path; an outer packet still too large is fragmented by the
      // kernel rather than refused (an inner IPv4 packet without DF may be fragmented, RFC 4459 §3).
      if (ip.length === 4) opt(IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT);
      else opt(IPPROTO_IPV6, IPV6_MTU_DISCOVER, IP_PMTUDISC_DONT);
      const len = writeSockaddr(tmp.view, 0, ip, port);
      if (libc.bind(fd, tmp.address, len) < 0) {
        const e = libc.errno();
        libc.close(fd);
        throw new IoError(
          "SOCKET",
          `cannot bind UDP ${address}[${port}]: ${libc.strerror(e)}${e === 98 ? " (another process uses this port: a charon or another `ipsec-wasm up`?)" : ""}`,
        );
      }
      if (opts.steer) attachSteering(libc, fd);
      // UDP GRO: runs of ESP datagrams (a peer's GSO sends, or the NIC's GRO) arrive as one message
      const gro = opts.gro === true && opt(SOL_UDP, UDP_GRO, 1) === 0;
      tmp.view.setUint32(SOCKADDR, SOCKADDR, true);
      libc.getsockname(fd, tmp.address, tmp.address + SOCKADDR);
      const bound = readSockaddr(tmp.view, 0).port;
      return new MmsgSocket(libc, fd, bound, batch, slotBytes, gro);
    } finally {
      tmp.free();
    }
  }

  /** Receives up to `max` datagrams without blocking; returns how many (0 when none is queued). */
  recv(max: number): number {
    const v = this.#rxVec.view;
    const n = Math.min(max, this.batch);
    for (let i = 0; i < n; i++) v.setUint32(i * MMSGHDR + 8, SOCKADDR, true);
    if (this.gro) for (let i = 0; i < n; i++) v.setUint32(i * MMSGHDR + 40, CMSG, true);
    const got = this.#libc.recvmmsg(this.fd, this.#rxVec.address, n, MSG_DONTWAIT, 0);
    if (got < 0) {
      const e = this.#libc.errno();
      if (e === EAGAIN || e === EINTR) return 0;
      throw new IoError("SOCKET", `recvmmsg: ${this.#libc.strerror(e)}`);
    }
    return got;
  }

  /** Byte offset of received datagram i in {@link rxBytes}. */
  rxOffset(i: number): number {
    return i * this.rxSlotBytes;
  }
  /**
   * With GRO: the size of each datagram in received message i when the kernel coalesced several
   * (all equal but the last, which may be shorter), else 0 (the message is one datagram).
   */
  rxSegment(i: number): number {
    const c = this.#rxCmsg;
    if (!c) return 0;
    const v = this.#rxVec.view;
    if (v.getUint32(i * MMSGHDR + 40, true) < 20) return 0;
    const o = i * CMSG;
    if (c.view.getInt32(o + 8, true) !== SOL_UDP || c.view.getInt32(o + 12, true) !== UDP_GRO) return 0;
    return c.view.getInt32(o + 16, true);
  }
  /** Length of received datagram i. */
  rxLength(i: number): number {
    return this.#rxVec.view.getUint32(i * MMSGHDR + 56, true);
  }
  /** Sender of received datagram i (allocates: for IKE messages, not for ESP). */
  rxFrom(i: number): { address: string; port: number } {
    return readSockaddr(this.#rxNames.view, i * SOCKADDR);
  }

  /** The native sockaddr for a destination (kept; at most 64 distinct ones), as [address, length]. */
  dest(address: string, port: number): [number, number] {
    const key = `${address}|${port}`;
    let d = this.#destIndex.get(key);
    if (d === undefined) {
      const ip = parseIp(address);
      if (!ip) throw new IoError("ARGUMENT", `'${address}' is not an IP address`);
      // Routes hold these addresses: never reuse a slot.
      if (this.#destIndex.size >= MAX_DESTS)
        throw new IoError("SOCKET", `more than ${MAX_DESTS} peer endpoints on one socket`);
      const i = this.#destIndex.size;
      d = [this.#dests.address + i * SOCKADDR, writeSockaddr(this.#dests.view, i * SOCKADDR, ip, port)];
      this.#destIndex.set(key, d);
    }
    return d;
  }

  /** Sets message i of the next {@link send}: `len` bytes at native address `addr` to `dest`. */
  setTx(i: number, addr: number, len: number, dest: [number, number]): void {
    const iov = this.#txIov.view,
      v = this.#txVec.view,
      m = i * MMSGHDR;
    setPtr(iov, i * IOVEC, addr);
    setPtr(iov, i * IOVEC + 8, len);
    setPtr(v, m, dest[0]);
    v.setUint32(m + 8, dest[1], true);
    this.#txLen[i] = len;
    this.#txDest[i] = dest[0];
  }

  /**
   * Sends messages 0..n-1 (set with {@link setTx}) with as few sendmmsg calls as the kernel
   * allows; a message it refuses is skipped. Returns [sent, failed, calls].
   */
  send(n: number): [number, number, number] {
    if (this.gso && n > 1) {
      const r = this.#sendGso(n);
      if (r) return r;
    }
    let done = 0,
      failed = 0,
      calls = 0;
    while (done < n && calls < 2 * n + 2) {
      calls++;
      const r = this.#libc.sendmmsg(this.fd, this.#txVec.address + done * MMSGHDR, n - done, 0);
      if (r > 0) {
        done += r;
        continue;
      }
      if (r < 0 && this.#libc.errno() === EINTR) continue;
      // This message failed (too big, no route): skip it, keep the rest.
      failed++;
      done++;
    }
    return [done - failed, failed, calls];
  }

  /**
   * Sends messages 0..n-1 as runs: consecutive datagrams to one destination whose sizes are equal
   * (the last of a run may be shorter) go as one message of several iovecs with UDP_SEGMENT, which
   * the kernel routes and builds headers for once and splits late (GSO). Undefined when the kernel
   * refused GSO (then {@link gso} is off and the caller sends them one by one).
   */
  #sendGso(n: number): [number, number, number] | undefined {
    const g = this.#gsoVec.view,
      len = this.#txLen,
      dst = this.#txDest;
    let m = 0;
    // i, j < n <= batch, the length of len, dst and #gsoCount; m <= n
    for (let i = 0; i < n;) {
      const size = len[i]!;
      let j = i + 1,
        bytes = size;
      while (
        j < n &&
        j - i < GSO_MAX_SEGMENTS &&
        dst[j] === dst[i] &&
        bytes + len[j]! <= GSO_MAX_BYTES &&
        len[j]! <= size &&
        len[j - 1] === size
      ) {
        bytes += len[j]!;
        j++;
      }
      const o = m * MMSGHDR;
      setPtr(g, o, dst[i]!);
      g.setUint32(o + 8, this.#txVec.view.getUint32(i * MMSGHDR + 8, true), true);
      setPtr(g, o + 16, this.#txIov.address + i * IOVEC);
      setPtr(g, o + 24, j - i);
      if (j - i > 1) {
        this.#gsoCmsg.view.setUint16(m * CMSG + 16, size, true);
        setPtr(g, o + 32, this.#gsoCmsg.address + m * CMSG);
        setPtr(g, o + 40, CMSG);
      } else {
        setPtr(g, o + 32, 0);
        setPtr(g, o + 40, 0);
      }
      this.#gsoCount[m] = j - i;
      m++;
      i = j;
    }
    let done = 0,
      sent = 0,
      failed = 0,
      calls = 0;
    while (done < m && calls < 2 * m + 2) {
      calls++;
      const r = this.#libc.sendmmsg(this.fd, this.#gsoVec.address + done * MMSGHDR, m - done, 0);
      if (r > 0) {
        for (let k = done; k < done + r; k++) sent += this.#gsoCount[k]!;
        done += r;
        continue;
      }
      const e = this.#libc.errno();
      if (r < 0 && e === EINTR) continue;
      if (done === 0 && (e === 22 /* EINVAL */ || e === 5 /* EIO */ || e === 95) /* EOPNOTSUPP */) {
        this.gso = false;
        return undefined;
      }
      failed += this.#gsoCount[done]!;
      done++;
    }
    return [sent, failed, calls];
  }

  /** Sends one datagram (IKE, keepalive, raw ESP) from a JavaScript buffer: copied to a native scratch buffer. */
  sendOne(prefix: Uint8Array | undefined, bytes: Uint8Array, address: string, port: number): boolean {
    const pre = prefix?.length ?? 0;
    if (pre + bytes.length > this.slotBytes + 64) return false;
    if (prefix) this.#scratch.bytes.set(prefix, 0);
    this.#scratch.bytes.set(bytes, pre);
    const [to, tolen] = this.dest(address, port);
    return this.#libc.sendto(this.fd, this.#scratch.address, pre + bytes.length, 0, to, tolen) >= 0;
  }

  /** Closes the socket and frees the native memory. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#libc.close(this.fd);
    for (const b of [
      this.#rxVec,
      this.#rxIov,
      this.#rxNames,
      this.#rxData,
      this.#txVec,
      this.#txIov,
      this.#dests,
      this.#scratch,
      this.#gsoVec,
      this.#gsoCmsg,
    ])
      b.free();
    this.#rxCmsg?.free();
  }
}
