/**
 * The packet worker (a node:worker_threads entry): owns the TUN fd and the ESP-in-UDP socket of
 * `ipsec-wasm up --tun` and its own Dataplane. The main thread sends SA installs/removals,
 * routes and IKE datagrams to send through `ctrl` and rings an eventfd so a worker sleeping in
 * poll() wakes at once; the worker reports IKE datagrams, stats and lifetime events on parentPort.
 *
 * `--io mmsg`: one synchronous loop: poll(TUN, socket, eventfd) → a batch from the TUN → encap →
 * sendmmsg; recvmmsg → decap → TUN writes. Control messages are taken with receiveMessageOnPort,
 * so the loop never needs the event loop. `--io dgram`: node:dgram delivers datagrams on the event
 * loop; the TUN is polled from setImmediate ticks (sleeping at most 1 ms in poll when idle).
 * @module
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import dgram from "node:dgram";
import { Dataplane } from "../dataplane/dataplane.ts";
import { loadLibc, EFD_CLOEXEC, EFD_NONBLOCK, POLLFD, POLLIN, type Libc, type NativeBlock } from "./libc.ts";
import { MmsgSocket } from "./udp-mmsg.ts";
import { TunnelEngine, type UdpSink } from "./tunnel-engine.ts";
import type { FromWorker, ToWorker, WorkerSetup } from "./messages.ts";
import { IoError } from "./errors.ts";

const setup = workerData as WorkerSetup & { ctrl: MessagePort };
const post = (m: FromWorker): void => parentPort!.postMessage(m);

let stopping = false;

/** Applies every queued control message (`stop` ends the loop, `stats` is answered at once). */
function drain(engine: TunnelEngine): void {
  for (;;) {
    const got: { message: ToWorker } | undefined = receiveMessageOnPort(setup.ctrl);
    if (!got) return;
    if (got.message.t === "stop") stopping = true;
    else if (got.message.t === "stats") post(stats(engine));
    else engine.control(got.message);
  }
}

let libcRef: Libc | undefined;
const t0 = performance.now();
let cpu0 = 0;
function stats(engine: TunnelEngine): FromWorker {
  engine.io.wallMs = performance.now() - t0;
  engine.io.cpuUs = libcRef ? (libcRef.threadCpuNs() - cpu0) / 1000 : 0;
  return engine.snapshot();
}

/** The mmsg sink: iovecs point into the wasm arena (no copy). */
function mmsgSink(libc: Libc, sock: MmsgSocket): UdpSink {
  let n = 0;
  let base = 0;
  let buf: ArrayBufferLike | undefined;
  return {
    dest: (address, port) => sock.dest(address, port),
    queue(out, dest) {
      // The wasm memory's address changes only when it grows (a new ArrayBuffer then).
      if (out.buffer !== buf) {
        buf = out.buffer;
        base = libc.addressOf(new Uint8Array(buf));
      }
      sock.setTx(n++, base + out.byteOffset, out.length, dest as [number, number]);
    },
    flush() {
      if (n === 0) return [0, 0, 0];
      const r = sock.send(n);
      n = 0;
      return r;
    },
    sendOne: (prefix, bytes, address, port) => sock.sendOne(prefix, bytes, address, port),
  };
}

/** The dgram sink: node:dgram sends asynchronously, so each datagram is copied out of the arena. */
function dgramSink(socket: dgram.Socket): UdpSink {
  let n = 0;
  return {
    dest: (address, port) => ({ address, port }),
    queue(out, dest) {
      const d = dest as { address: string; port: number };
      socket.send(out.slice(), d.port, d.address);
      n++;
    },
    flush() {
      const r: [number, number, number] = [n, 0, n];
      n = 0;
      return r;
    },
    sendOne(prefix, bytes, address, port) {
      socket.send(prefix ? Buffer.concat([prefix, bytes]) : bytes, port, address);
      return true;
    },
  };
}

async function main(): Promise<void> {
  const libc = await loadLibc("--tun");
  libcRef = libc;
  cpu0 = libc.threadCpuNs();
  const dp = await Dataplane.create({ maxSas: 1024, batchSize: setup.batch });
  const wake = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) throw new IoError("WORKER", `eventfd: ${libc.strerror(libc.errno())}`);
  const pfd = libc.alloc(3 * POLLFD);
  const scratch = libc.alloc(16);
  try {
    if (setup.io === "mmsg") await runMmsg(libc, dp, wake, pfd, scratch);
    else await runDgram(libc, dp, wake, pfd, scratch);
  } finally {
    libc.close(wake);
    pfd.free();
    scratch.free();
  }
}

function periodic(engine: TunnelEngine): () => void {
  let next = performance.now() + setup.statsMs;
  return () => {
    const now = performance.now();
    if (now < next) return;
    next = now + setup.statsMs;
    post(stats(engine));
  };
}

async function runMmsg(libc: Libc, dp: Dataplane, wake: number, pfd: NativeBlock, scratch: NativeBlock): Promise<void> {
  const sock = MmsgSocket.open(libc, setup.address, setup.natPort, setup.batch, 2048, {
    reusePort: setup.reusePort,
    steer: setup.steer,
    gro: setup.udpGro ?? false,
  });
  const engine = new TunnelEngine(
    libc,
    dp,
    setup.tunFd,
    setup.batch,
    mmsgSink(libc, sock),
    post,
    setup.profile,
    setup.tunOffload,
  );
  const v = pfd.view;
  // The inbound worker of two never reads the TUN (fd -1: poll ignores the entry).
  const tunFd = setup.role === "in" ? -1 : setup.tunFd;
  for (const [i, fd] of [tunFd, sock.fd, wake].entries()) {
    v.setInt32(i * POLLFD, fd, true);
    v.setInt16(i * POLLFD + 4, POLLIN, true);
  }
  post({ t: "ready", port: sock.port, wakeFd: wake });
  drain(engine);
  const tick = periodic(engine);
  let busy = false;
  try {
    while (!stopping) {
      engine.io.pollCalls++;
      const r = libc.poll(pfd.address, 3, busy ? 0 : 200);
      let tunN = 0,
        udpN = 0;
      if (r > 0) {
        if (v.getInt16(2 * POLLFD + 6, true) !== 0) {
          libc.read(wake, scratch.address, 8);
          drain(engine);
        }
        if (v.getInt16(6, true) !== 0) tunN = engine.fromTun();
        if (v.getInt16(POLLFD + 6, true) !== 0) {
          engine.io.recvCalls++;
          engine.mark();
          udpN = sock.recv(setup.batch);
          engine.lap(4);
          engine.beginReceive();
          const rx = sock.rxBytes;
          for (let i = 0; i < udpN; i++) {
            const off = sock.rxOffset(i),
              len = sock.rxLength(i),
              seg = sock.rxSegment(i);
            if (seg > 0 && seg < len) {
              // a GRO message: a run of datagrams of `seg` bytes (the last may be shorter)
              engine.io.udpGroRuns++;
              for (let at = 0; at < len; at += seg)
                engine.ingest(rx.subarray(off + at, off + Math.min(len, at + seg)), () => sock.rxFrom(i));
            } else engine.ingest(rx.subarray(off, off + len), () => sock.rxFrom(i));
          }
          engine.finishReceive();
        }
      } else {
        drain(engine);
      }
      busy = tunN === setup.batch || udpN === setup.batch;
      tick();
    }
  } finally {
    engine.close();
    sock.close();
  }
}

/**
 * The next turn of the event loop, after its I/O: setImmediate in Node and Bun. Deno runs
 * setImmediate callbacks again before it polls its I/O, so node:dgram's datagrams barely got in
 * (TCP through the tunnel at 6 Mbit/s); a zero timeout lets them in there (83 Mbit/s).
 */
const nextTurn: (f: () => void) => void =
  "Deno" in globalThis ? (f) => void setTimeout(f, 0) : (f) => void setImmediate(f);

async function runDgram(
  libc: Libc,
  dp: Dataplane,
  wake: number,
  pfd: NativeBlock,
  scratch: NativeBlock,
): Promise<void> {
  const socket = dgram.createSocket({ type: setup.address.includes(":") ? "udp6" : "udp4", reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(setup.natPort, setup.address, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  const engine = new TunnelEngine(
    libc,
    dp,
    setup.tunFd,
    setup.batch,
    dgramSink(socket),
    post,
    setup.profile,
    setup.tunOffload,
  );
  // The Dataplane has one batch for both directions: datagrams wait here (node:dgram allocated
  // them anyway) until a whole turn of the event loop's arrivals is decapsulated at once.
  const pending: { msg: Buffer; rinfo: dgram.RemoteInfo }[] = [];
  socket.on("message", (msg, rinfo) => {
    if (pending.length === 0) {
      setImmediate(() => {
        // node:dgram's receive cost is spent before this: outside the stage timers.
        engine.mark();
        engine.beginReceive();
        for (const { msg: m, rinfo: r } of pending) engine.ingest(m, () => ({ address: r.address, port: r.port }));
        pending.length = 0;
        engine.finishReceive();
      });
    }
    pending.push({ msg, rinfo });
  });
  const v = pfd.view;
  for (const [i, fd] of [setup.tunFd, wake].entries()) {
    v.setInt32(i * POLLFD, fd, true);
    v.setInt16(i * POLLFD + 4, POLLIN, true);
  }
  post({ t: "ready", port: socket.address().port, wakeFd: wake });
  drain(engine);
  const tick = periodic(engine);
  await new Promise<void>((resolve) => {
    let idle = false;
    const step = (): void => {
      if (stopping) {
        resolve();
        return;
      }
      engine.io.pollCalls++;
      // Sleeping here delays datagrams by at most 1 ms (they wait in the socket buffer).
      const r = libc.poll(pfd.address, 2, idle ? 1 : 0);
      let n = 0;
      if (r > 0) {
        if (v.getInt16(POLLFD + 6, true) !== 0) {
          libc.read(wake, scratch.address, 8);
          drain(engine);
        }
        if (v.getInt16(6, true) !== 0) n = engine.fromTun();
      }
      idle = n === 0;
      tick();
      nextTurn(step);
    };
    step();
  });
  engine.close();
  await new Promise<void>((r) => socket.close(() => r()));
}

main().then(
  () => {
    post({ t: "stopped" });
    setup.ctrl.close();
  },
  (e: unknown) => {
    const err = e as Error & { code?: string };
    post({ t: "fatal", code: e instanceof IoError ? err.code! : "WORKER", message: err.message });
    setup.ctrl.close();
  },
);
