// The libc binding of sdk/io/libc.ts exercised without root, in whatever runtime runs this script
// (node --import tsx: koffi; deno run --allow-ffi: Deno.dlopen; bun: bun:ffi): an eventfd written
// from native memory, poll()ed and read back; errno and strerror of failed calls; a UDP socket on
// loopback sending to itself with sendto and with sendmmsg from a JavaScript array's address
// (addressOf), received with recvmmsg; writeView and open on /dev/null; the thread's CPU clock.
// Prints one JSON line {runtime, failures[]}; exits 0 only when nothing failed. Run by
// test/unit/libc-runtimes.test.ts (Node, Deno) and test/interop/tun-runtimes.test.ts (Bun).
import {
  AF_INET,
  EAGAIN,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  IOVEC,
  MMSGHDR,
  MSG_DONTWAIT,
  O_CLOEXEC,
  O_RDWR,
  POLLFD,
  POLLIN,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCKADDR,
  ffiRuntime,
  loadLibc,
  readSockaddr,
  writeSockaddr,
} from "../../sdk/io/libc.ts";

const failures: string[] = [];
const check = (ok: boolean, what: string): void => {
  if (!ok) failures.push(what);
};

const libc = await loadLibc("libc check");
const cpu0 = libc.threadCpuNs();

// eventfd + poll + read/write through native memory
const mem = libc.alloc(64);
check(mem.bytes.length === 64 && mem.bytes.every((b) => b === 0), "alloc gives zeroed memory");
const efd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
check(efd >= 0, `eventfd: ${efd}`);
mem.view.setBigUint64(0, 5n, true);
check(libc.write(efd, mem.address, 8) === 8, "write 8 bytes to the eventfd");
const pfd = libc.alloc(POLLFD);
pfd.view.setInt32(0, efd, true);
pfd.view.setInt16(4, POLLIN, true);
check(libc.poll(pfd.address, 1, 1000) === 1, "poll: the eventfd is readable");
check((pfd.view.getInt16(6, true) & POLLIN) !== 0, "poll's revents (written by the kernel) are seen in the view");
check(libc.read(efd, mem.address + 8, 8) === 8, "read 8 bytes back");
check(mem.view.getBigUint64(8, true) === 5n, `the counter read is 5: ${mem.view.getBigUint64(8, true)}`);
check(libc.read(efd, mem.address + 8, 8) === -1 && libc.errno() === EAGAIN, "an empty eventfd: -1 and EAGAIN");
check(libc.poll(pfd.address, 1, 0) === 0, "poll: nothing to read now");
check(libc.close(efd) === 0, "close the eventfd");
check(libc.read(-1, mem.address, 1) === -1 && libc.errno() === 9, "read(-1): EBADF");
check(libc.strerror(9) === "Bad file descriptor", `strerror(9): ${libc.strerror(9)}`);

// UDP on loopback: sendto from native memory, sendmmsg from a JavaScript array, recvmmsg
const fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
check(fd >= 0, `socket: ${fd}`);
const sa = libc.alloc(SOCKADDR + 8);
const salen = writeSockaddr(sa.view, 0, new Uint8Array([127, 0, 0, 1]), 0);
check(libc.bind(fd, sa.address, salen) === 0, `bind 127.0.0.1:0: ${libc.strerror(libc.errno())}`);
sa.view.setUint32(SOCKADDR, SOCKADDR, true);
check(libc.getsockname(fd, sa.address, sa.address + SOCKADDR) === 0, "getsockname");
const me = readSockaddr(sa.view, 0);
check(me.address === "127.0.0.1" && me.port > 0, `bound to ${me.address}:${me.port}`);
mem.bytes.set([1, 2, 3], 16);
check(libc.sendto(fd, mem.address + 16, 3, 0, sa.address, salen) === 3, "sendto from native memory");
const js = new Uint8Array(256);
js.set([7, 7, 7, 7], 0);
js.set([9, 9], 100);
const base = libc.addressOf(js);
check(base > 0, "addressOf a JavaScript array");
const tx = libc.alloc(2 * MMSGHDR + 2 * IOVEC);
const txIov = tx.address + 2 * MMSGHDR;
for (const [i, off, len] of [
  [0, 0, 4],
  [1, 100, 2],
] as const) {
  tx.view.setBigUint64(2 * MMSGHDR + i * IOVEC, BigInt(base + off), true);
  tx.view.setBigUint64(2 * MMSGHDR + i * IOVEC + 8, BigInt(len), true);
  tx.view.setBigUint64(i * MMSGHDR, BigInt(sa.address), true);
  tx.view.setUint32(i * MMSGHDR + 8, salen, true);
  tx.view.setBigUint64(i * MMSGHDR + 16, BigInt(txIov + i * IOVEC), true);
  tx.view.setBigUint64(i * MMSGHDR + 24, 1n, true);
}
check(libc.sendmmsg(fd, tx.address, 2, 0) === 2, `sendmmsg 2 from a JavaScript array: ${libc.strerror(libc.errno())}`);
const n = 4;
const rx = libc.alloc(n * (MMSGHDR + IOVEC + SOCKADDR + 64));
const rxIov = n * MMSGHDR,
  rxNames = rxIov + n * IOVEC,
  rxData = rxNames + n * SOCKADDR;
for (let i = 0; i < n; i++) {
  rx.view.setBigUint64(rxIov + i * IOVEC, BigInt(rx.address + rxData + i * 64), true);
  rx.view.setBigUint64(rxIov + i * IOVEC + 8, 64n, true);
  rx.view.setBigUint64(i * MMSGHDR, BigInt(rx.address + rxNames + i * SOCKADDR), true);
  rx.view.setUint32(i * MMSGHDR + 8, SOCKADDR, true);
  rx.view.setBigUint64(i * MMSGHDR + 16, BigInt(rx.address + rxIov + i * IOVEC), true);
  rx.view.setBigUint64(i * MMSGHDR + 24, 1n, true);
}
pfd.view.setInt32(0, fd, true);
check(libc.poll(pfd.address, 1, 1000) === 1, "poll: the socket is readable");
const got = libc.recvmmsg(fd, rx.address, n, MSG_DONTWAIT, 0);
check(got === 3, `recvmmsg got ${got} datagrams, want 3`);
const lens = [0, 1, 2].map((i) => rx.view.getUint32(i * MMSGHDR + 56, true));
check(lens.join() === "3,4,2", `datagram lengths ${lens.join()}`);
const bytes = [0, 1, 2].map((i) => [...rx.bytes.subarray(rxData + i * 64, rxData + i * 64 + lens[i]!)].join("."));
check(bytes.join(" ") === "1.2.3 7.7.7.7 9.9", `datagram bytes ${bytes.join(" ")}`);
check(readSockaddr(rx.view, rxNames).port === me.port, "recvmmsg wrote the sender's address");
check(libc.recvmmsg(fd, rx.address, n, MSG_DONTWAIT, 0) === -1 && libc.errno() === EAGAIN, "recvmmsg: EAGAIN");
check(libc.close(fd) === 0, "close the socket");

// open + writeView
const nul = libc.open("/dev/null", O_RDWR | O_CLOEXEC);
check(nul >= 0, `open /dev/null: ${libc.strerror(libc.errno())}`);
check(libc.writeView(nul, js, 10) === 10, "writeView 10 bytes of a JavaScript array");
check(libc.close(nul) === 0, "close /dev/null");
check(libc.open("/nonexistent/x", O_RDWR) === -1 && libc.errno() === 2, "open of a missing file: ENOENT");

let spin = 0;
for (let i = 0; i < 2e6; i++) spin += i;
const cpu1 = libc.threadCpuNs();
check(cpu1 > cpu0 && spin > 0, `the thread CPU clock advances: ${cpu0} -> ${cpu1}`);
for (const b of [mem, pfd, sa, tx, rx]) b.free();

console.log(JSON.stringify({ runtime: ffiRuntime(), failures }));
if (failures.length) process.exitCode = 1;
