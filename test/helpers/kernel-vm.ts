// Driver for the Linux kernel peer of the interop tests (test/interop/kernel): Debian's kernel under
// QEMU, its XFRM doing ESP-in-UDP with a UDP socket on the host. One boot serves a whole test file:
// guest-agent.sh runs shell commands the host drops into the 9p share and writes their output back.
//
//   host 127.0.0.1:P (our socket)  --sendto 127.0.0.1:F-->  QEMU hostfwd  -->  guest 198.18.0.15:4500
//                                  <--from 127.0.0.1:F---  guest ESP to 198.18.0.2:P  (XFRM encap)
//
// With `strongswan: true` the guest also gets strongSwan's charon (kernel-netlink: the guest kernel's
// XFRM does the ESP) from build-strongswan.sh's extra cpio, and `netns` runs QEMU in a network
// namespace of the test's, where `hostfwd` rules bind (test/interop/kernel-tun.test.ts).
//
// The cache (kernel, initramfs) lives outside the repo, in /var/cache/ipsec-wasm-kernel-vm; a missing
// QEMU or kernel makes prepare throw with the command that installs them: a red test, never a skip.
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import dgram from "node:dgram";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoPath, tempDir } from "./interop.ts";

/** The vendored recipe: build.sh, run.sh, guest-init.sh, guest-agent.sh, espudp.c, udpio.c. */
export const KERNEL_VM_DIR = repoPath("test/interop/kernel");
/** Where build.sh puts the kernel and initramfs (`KVM_CACHE` overrides it, for build.sh too). */
export const KERNEL_VM_CACHE = process.env.KVM_CACHE ?? "/var/cache/ipsec-wasm-kernel-vm";
/** The guest's eth0 address (QEMU user network 198.18.0.0/24). */
export const GUEST_ADDR = "198.18.0.15";
/** QEMU's virtual host as the guest sees it: the host's 127.0.0.1. */
export const HOST_ADDR_IN_GUEST = "198.18.0.2";
/** The command CI runs to prepare the cache (installs Debian packages, downloads the kernel). */
export const PREPARE_COMMAND = "bash test/interop/kernel/build.sh";

/** The command that prepares the optional strongSwan part (charon, swanctl, plugins, libraries). */
export const PREPARE_STRONGSWAN_COMMAND = "bash test/interop/kernel/build-strongswan.sh";
/** The strongSwan part's cpio, appended to the base image (build-strongswan.sh writes it). */
export const STRONGSWAN_CPIO = join(KERNEL_VM_CACHE, "strongswan.cpio");

/** Files whose bytes go into the initramfs; build.sh hashes the same list, in the same order, into `stamp`. */
const IMAGE_INPUTS = ["build.sh", "guest-init.sh", "espudp.c", "udpio.c"];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`'s value, or null when it takes longer than `ms` (the timer is cleared either way, so it never holds the process). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

function imageStamp(): string {
  const h = createHash("sha256");
  for (const f of IMAGE_INPUTS) h.update(readFileSync(join(KERNEL_VM_DIR, f)));
  return h.digest("hex");
}

/** What is missing to boot the VM (QEMU, the kernel, the initramfs), or null. */
export function kernelVmProblem(): string | null {
  if (process.platform !== "linux" || process.arch !== "x64")
    return `the kernel peer needs Linux on x86-64 (this is ${process.platform}/${process.arch})`;
  if (spawnSync("sh", ["-c", "command -v qemu-system-x86_64"], { stdio: "ignore" }).status !== 0) {
    return "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)";
  }
  for (const f of ["vmlinuz", "initramfs.cpio", "kver"]) {
    if (!existsSync(join(KERNEL_VM_CACHE, f)))
      return `${join(KERNEL_VM_CACHE, f)} is missing (kernel image not prepared)`;
  }
  return null;
}

/** Whether the initramfs was built from other versions of the recipe than the ones in this checkout. */
export function kernelVmImageStale(): boolean {
  const f = join(KERNEL_VM_CACHE, "stamp");
  return !existsSync(f) || readFileSync(f, "utf8").split(" ")[0] !== imageStamp();
}

/**
 * Makes sure the VM can boot: missing QEMU or kernel throws, naming the command that prepares
 * them; a stale initramfs (the recipe changed since it was built) is rebuilt with what is
 * installed (no apt-get, a few seconds).
 */
export function prepareKernelVm(): void {
  const problem = kernelVmProblem();
  if (problem !== null) {
    throw new Error(
      `Linux kernel peer not available: ${problem}. Prepare it with \`${PREPARE_COMMAND}\` ` +
        "(as root: installs qemu-system-x86 busybox-static kmod cpio gcc, downloads Debian's linux-image-amd64 " +
        `into ${KERNEL_VM_CACHE}); .ci/run does this before npm run test:interop`,
    );
  }
  if (!kernelVmImageStale()) return;
  const r = spawnSync("bash", [join(KERNEL_VM_DIR, "build.sh")], {
    env: { ...process.env, KVM_SKIP_APT: "1", KVM_CACHE: KERNEL_VM_CACHE },
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status !== 0 || kernelVmImageStale()) {
    throw new Error(`rebuilding the stale kernel VM image (${PREPARE_COMMAND}) failed:\n${r.stderr}`);
  }
}

/**
 * Makes sure the strongSwan part of the image is current: build-strongswan.sh is a no-op (a stamp
 * check) when it is, and rebuilds it from the installed strongSwan in a second when not. Missing
 * strongSwan packages throw, naming what installs them.
 */
export function prepareStrongswanPart(): void {
  const r = spawnSync("bash", [join(KERNEL_VM_DIR, "build-strongswan.sh")], {
    env: { ...process.env, KVM_SKIP_APT: "1", KVM_CACHE: KERNEL_VM_CACHE },
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0 || !existsSync(STRONGSWAN_CPIO)) {
    throw new Error(
      `strongSwan part of the kernel VM image not available: ${(r.stderr || r.error?.message || "").trim()}. ` +
        `Prepare it with \`${PREPARE_STRONGSWAN_COMMAND}\` (as root: installs strongswan-charon strongswan-swanctl ` +
        "libstrongswan libstrongswan-standard-plugins); .ci/run does this before npm run test:interop",
    );
  }
}

/** A free UDP port on 127.0.0.1 (for QEMU's forward to the guest's 4500). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => resolve());
  });
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** How to boot the VM. */
export interface KernelVmOptions {
  /** Host UDP port QEMU forwards to the guest's 198.18.0.15:4500 (default: a free one; none with `netns`). */
  udpForwardPort?: number;
  /**
   * Run QEMU (run.sh) inside this network namespace (`ip netns exec`): its forwards bind there and
   * what the guest sends to QEMU's virtual host goes to that namespace's sockets.
   */
  netns?: string;
  /** More QEMU hostfwd rules, e.g. `udp:198.18.2.2:500-198.18.0.15:500` (run.sh's KVM_HOSTFWD). */
  hostfwd?: string[];
  /**
   * Add charon and swanctl to the guest (build-strongswan.sh's cpio) and leave UDP 4500 to them:
   * the agent starts no espudp.
   */
  strongswan?: boolean;
  /** The guest agent powers off after this long whatever happens (default 300 s); QEMU is killed 60 s later. */
  lifetimeSec?: number;
  /** Boot must reach the agent's ready mark within this (default 180 s; TCG boots in 7-25 s). */
  bootTimeoutSec?: number;
  /** vCPUs (default 1: the machine has 2 cores and other tests run too). */
  smp?: number;
  /** Each console line as it arrives (kernel messages, agent notes). */
  onConsole?: (line: string) => void;
}

/** Output and exit status of one guest command (124 when its timeout killed it). */
export interface GuestResult {
  code: number;
  out: string;
}

/** A running guest: Debian's kernel with XFRM, espudp holding UDP 4500, a command loop. */
export class KernelVm {
  /** Host 127.0.0.1 port forwarded to the guest's ESP-in-UDP port 4500 (0: none). */
  readonly udpForwardPort: number;
  /** The guest kernel's release, e.g. 6.1.0-56-amd64. */
  readonly kernelRelease: string;
  readonly #proc: ChildProcess;
  readonly #share: { dir: string; remove: () => void };
  readonly #console: string[];
  readonly #exit: Promise<number>;
  #exited = false;
  #next = 1;

  private constructor(
    proc: ChildProcess,
    share: { dir: string; remove: () => void },
    console: string[],
    exit: Promise<number>,
    port: number,
    release: string,
  ) {
    this.#proc = proc;
    this.#share = share;
    this.#console = console;
    this.#exit = exit.then((c) => {
      this.#exited = true;
      return c;
    });
    this.udpForwardPort = port;
    this.kernelRelease = release;
  }

  /** Boots the VM and waits for the agent (prepareKernelVm first). Throws with the console log if it does not come up. */
  static async boot(opts: KernelVmOptions = {}): Promise<KernelVm> {
    prepareKernelVm();
    if (opts.strongswan) prepareStrongswanPart();
    const port = opts.udpForwardPort ?? (opts.netns ? 0 : await freeUdpPort());
    const lifetime = opts.lifetimeSec ?? 300;
    const share = tempDir("kvm-share");
    const lines: string[] = [];
    const run = [
      "bash",
      join(KERNEL_VM_DIR, "run.sh"),
      join(KERNEL_VM_DIR, "guest-agent.sh"),
      String(lifetime),
      ...(opts.strongswan ? ["noespudp"] : []),
    ];
    // `ip netns exec` execs bash: the PID stays run.sh's, whose SIGTERM trap stops QEMU.
    const argv = opts.netns ? ["ip", "netns", "exec", opts.netns, ...run] : run;
    const proc = spawn(argv[0]!, argv.slice(1), {
      env: {
        ...process.env,
        PATH: `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin`,
        KVM_CACHE: KERNEL_VM_CACHE,
        KVM_SHARE: share.dir,
        ...(port ? { KVM_UDP_FWD: String(port) } : {}),
        ...(opts.hostfwd?.length ? { KVM_HOSTFWD: opts.hostfwd.join(",") } : {}),
        ...(opts.strongswan ? { KVM_EXTRA_CPIO: STRONGSWAN_CPIO } : {}),
        KVM_TIMEOUT: String(lifetime + 60),
        KVM_SMP: String(opts.smp ?? 1),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const onText = (chunk: string): void => {
      for (const line of chunk.split("\n")) {
        if (line === "") continue;
        lines.push(line);
        if (lines.length > 4000) lines.splice(0, 1000);
        opts.onConsole?.(line);
      }
    };
    proc.stdout?.setEncoding("utf8").on("data", onText);
    proc.stderr?.setEncoding("utf8").on("data", onText);
    const exit = new Promise<number>((resolve) => {
      proc.on("error", (e) => {
        lines.push(`spawn: ${e.message}`);
        resolve(127);
      });
      proc.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 125)));
    });
    let exited = false;
    void exit.then(() => {
      exited = true;
    });
    // A test process that dies (uncaught error, ^C) must not leave QEMU running until its lifetime.
    const killOnExit = (): void => {
      if (!exited && proc.pid !== undefined) process.kill(proc.pid, "SIGTERM");
    };
    process.on("exit", killOnExit);
    void exit.then(() => process.off("exit", killOnExit));
    const readyFile = join(share.dir, "ready");
    const polls = Math.ceil(((opts.bootTimeoutSec ?? 180) * 1000) / 100);
    for (let i = 0; i < polls && !exited && !existsSync(readyFile); i++) await sleep(100);
    if (!existsSync(readyFile)) {
      if (!exited && proc.pid !== undefined) process.kill(proc.pid, "SIGTERM");
      await within(exit, 10_000);
      share.remove();
      throw new Error(
        `kernel VM did not become ready (${exited ? "VM exited" : "boot timeout"}); console:\n${lines.slice(-60).join("\n")}`,
      );
    }
    return new KernelVm(proc, share, lines, exit, port, readFileSync(readyFile, "utf8").trim());
  }

  /**
   * Runs a /bin/sh script in the guest (dash; busybox, iproute2, coreutils timeout, espudp, udpio)
   * and returns its output. The guest kills it after `timeoutSec`. Background jobs it starts must
   * redirect their own output (e.g. to /tmp) and stay within the VM's lifetime.
   */
  async exec(script: string, timeoutSec = 20): Promise<GuestResult> {
    if (this.#exited) throw new Error(`kernel VM is not running; console:\n${this.consoleLog(40)}`);
    const id = String(this.#next++).padStart(5, "0");
    const cmd = join(this.#share.dir, "cmd", `${id}.sh`);
    const out = join(this.#share.dir, "out", `${id}.out`);
    const rc = join(this.#share.dir, "out", `${id}.rc`);
    mkdirSync(join(this.#share.dir, "cmd"), { recursive: true });
    writeFileSync(`${cmd}.tmp`, `# timeout ${timeoutSec}\n${script}\n`);
    renameSync(`${cmd}.tmp`, cmd);
    // The agent polls every 0.2 s; the slack covers a slow 9p round trip under TCG.
    const polls = Math.ceil(((timeoutSec + 30) * 1000) / 50);
    for (let i = 0; i < polls && !this.#exited && !existsSync(rc); i++) await sleep(50);
    if (!existsSync(rc)) {
      throw new Error(
        `guest command ${id} gave no result (${this.#exited ? "VM exited" : "timeout"}):\n${script}\nconsole:\n${this.consoleLog(40)}`,
      );
    }
    return { code: Number(readFileSync(rc, "utf8").trim()), out: readFileSync(out, "utf8") };
  }

  /** exec, throwing with the output when the script exits non-zero. */
  async sh(script: string, timeoutSec = 20): Promise<string> {
    const r = await this.exec(script, timeoutSec);
    if (r.code !== 0) throw new Error(`guest command failed (exit ${r.code}):\n${script}\n--- output:\n${r.out}`);
    return r.out;
  }

  /** Writes `name` into the 9p share (atomically) and returns its path in the guest. */
  putFile(name: string, content: string): string {
    if (!/^[\w.-]+$/.test(name)) throw new Error(`putFile: bad name ${name}`);
    const f = join(this.#share.dir, name);
    writeFileSync(`${f}.tmp`, content);
    renameSync(`${f}.tmp`, f);
    return `/mnt/host/${name}`;
  }

  /** The host directory shared with the guest (QEMU's command line names it). */
  get shareDir(): string {
    return this.#share.dir;
  }

  /** `ip -s xfrm state`, parsed. */
  async xfrmStates(): Promise<XfrmState[]> {
    return parseXfrmStates(await this.sh("ip -s xfrm state"));
  }

  /** /proc/net/xfrm_stat as numbers. */
  async xfrmStat(): Promise<Record<string, number>> {
    return parseXfrmStat(await this.sh("cat /proc/net/xfrm_stat"));
  }

  /** The last `n` console lines (kernel and agent). */
  consoleLog(n = 200): string {
    return this.#console.slice(-n).join("\n");
  }

  /** Asks the agent to power off; kills run.sh (by its PID) if it has not within 30 s. Returns the VM's exit status. */
  async stop(): Promise<number> {
    if (!this.#exited) {
      writeFileSync(join(this.#share.dir, "stop"), "");
      if ((await within(this.#exit, 30_000)) === null && this.#proc.pid !== undefined) {
        process.kill(this.#proc.pid, "SIGTERM");
        if ((await within(this.#exit, 15_000)) === null) process.kill(this.#proc.pid, "SIGKILL");
      }
    }
    const code = await this.#exit;
    this.#share.remove();
    return code;
  }
}

/** One SA from `ip -s xfrm state`. */
export interface XfrmState {
  src: string;
  dst: string;
  spi: number;
  reqid: number;
  mode: string;
  /** `auth-trunc hmac(sha256) 0x… 96` → { name: "hmac(sha256)", bits: 96 } (the kernel prints auth as auth-trunc). */
  auth?: { name: string; bits: number };
  /** `aead rfc4106(gcm(aes)) 0x… 128` → { name, bits: ICV bits }. */
  aead?: { name: string; bits: number };
  enc?: string;
  /** `stats: replay-window N replay N failed N`. */
  replayDrops: number;
  failed: number;
  /** `lifetime current: N(bytes), N(packets)`. */
  bytes: number;
  packets: number;
}

/** Parses `ip -s xfrm state` (iproute2's layout: a block per SA starting with `src A dst B`). */
export function parseXfrmStates(text: string): XfrmState[] {
  const blocks = text.split(/^(?=src )/m).filter((b) => b.startsWith("src "));
  return blocks.map((b) => {
    const head = /^src (\S+) dst (\S+)/.exec(b);
    const id = /proto esp spi 0x([0-9a-f]+)(?:\(\d+\))? reqid (\d+)(?:\(0x[0-9a-f]+\))? mode (\S+)/.exec(b);
    if (!head || !id) throw new Error(`cannot parse xfrm state block:\n${b}`);
    const auth = /^\s*auth-trunc (\S+) 0x[0-9a-f]+(?: \(\d+ bits\))? (\d+)$/m.exec(b);
    const aead = /^\s*aead (\S+) 0x[0-9a-f]+(?: \(\d+ bits\))? (\d+)$/m.exec(b);
    const enc = /^\s*enc (\S+) 0x/m.exec(b);
    const stats = /replay-window \d+ replay (\d+) failed (\d+)/.exec(b);
    const cur = /lifetime current:\s*\n\s*(\d+)\(bytes\), (\d+)\(packets\)/.exec(b);
    return {
      src: head[1]!,
      dst: head[2]!,
      spi: parseInt(id[1]!, 16),
      reqid: Number(id[2]),
      mode: id[3]!,
      auth: auth ? { name: auth[1]!, bits: Number(auth[2]) } : undefined,
      aead: aead ? { name: aead[1]!, bits: Number(aead[2]) } : undefined,
      enc: enc?.[1],
      replayDrops: stats ? Number(stats[1]) : 0,
      failed: stats ? Number(stats[2]) : 0,
      bytes: cur ? Number(cur[1]) : 0,
      packets: cur ? Number(cur[2]) : 0,
    };
  });
}

/** Parses /proc/net/xfrm_stat (`XfrmInError 0` per line). */
export function parseXfrmStat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(Xfrm\w+)\s+(\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}
