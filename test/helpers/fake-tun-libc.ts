// A libc for the packet engine (sdk/io/tunnel-engine.ts) without a kernel: "native" memory is
// plain ArrayBuffers at made-up addresses, TUN reads and writes go to callbacks, and every socket
// call fails. The engine's unit test feeds it packets one by one; bench/tunnel/workers.ts from a ring.
import type { Libc, NativeBlock } from "../../sdk/io/libc.ts";

export interface FakeTun {
  /** Fills `dst` with the next packet read from the TUN and returns its length, or -1 (would block). */
  read(dst: Uint8Array): number;
  /** A packet the engine wrote to the TUN (a view, valid only during the call). */
  write(packet: Uint8Array): void;
}

export function fakeTunLibc(tun: FakeTun): Libc {
  const blocks: NativeBlock[] = [];
  let next = 1 << 20;
  const at = (addr: number, len: number): Uint8Array => {
    const b = blocks.find((x) => addr >= x.address && addr < x.address + x.bytes.length)!;
    return b.bytes.subarray(addr - b.address, addr - b.address + len);
  };
  const fail = (): number => -1;
  return {
    read: (_fd, addr, len) => tun.read(at(addr, len)),
    writeView(_fd, v, n) {
      tun.write(v.subarray(0, n));
      return n;
    },
    write(_fd, addr, len) {
      tun.write(at(addr, len));
      return len;
    },
    close: () => 0,
    poll: () => 0,
    socket: fail,
    bind: fail,
    setsockopt: fail,
    getsockname: fail,
    recvmmsg: fail,
    sendmmsg: fail,
    sendto: fail,
    eventfd: fail,
    open: fail,
    ioctl: fail,
    addressOf: () => 0,
    threadCpuNs: () => 0,
    errno: () => 11,
    strerror: () => "",
    alloc(n) {
      const ab = new ArrayBuffer(n);
      const b = { address: next, bytes: new Uint8Array(ab), view: new DataView(ab), free: () => undefined };
      next += n + 4096;
      blocks.push(b);
      return b;
    },
  };
}
