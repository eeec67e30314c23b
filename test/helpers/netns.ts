// Network namespaces for the TUN tests (test/interop/tun-*.test.ts): a lab creates namespaces with
// names unique to this process, joins them with veth pairs on 198.18.0.0/15 addresses (the
// benchmarking range; never the machine's real uplink), runs bounded commands in them and spawns
// long-running processes in their own process groups. `cleanup()` kills exactly those process
// groups (by PID) and deletes exactly those namespaces; it also runs on process exit. Needs root.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { after, before } from "node:test";

const PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin`;

/** Result of a bounded command; code 124 when it was killed for taking too long. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A long-running process in a namespace. */
export interface Spawned {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything it printed (stdout and stderr interleaved). */
  out(): string;
  /** Resolves with its exit code (or 128 + signal number). */
  readonly exited: Promise<number>;
  /** Resolves when `re` appears in its output; rejects when it exits first or after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
}

/** The `end` of iperf3's JSON report (what the TUN tests read of it). */
export interface IperfEnd {
  sum_received?: { bits_per_second: number; bytes: number };
  sum?: { lost_percent?: number; packets?: number; lost_packets?: number; bytes?: number };
}

/** Throws naming what is missing: root, iproute2, /dev/net/tun, and each tool in `tools`. */
export function requireNetns(tools: { cmd: string; pkg: string }[] = []): void {
  if (process.platform !== "linux") throw new Error(`TUN tests need Linux, not ${process.platform}`);
  if (process.getuid?.() !== 0) throw new Error("TUN tests need root (network namespaces, veth, TUN devices)");
  if (!existsSync("/dev/net/tun")) throw new Error("/dev/net/tun is missing: the kernel has no TUN support");
  const missing = [{ cmd: "ip", pkg: "iproute2" }, ...tools].filter(
    (t) =>
      spawnSync("sh", ["-c", `command -v ${t.cmd}`], { env: { ...process.env, PATH }, stdio: "ignore" }).status !== 0,
  );
  if (missing.length)
    throw new Error(
      `missing ${missing.map((t) => t.cmd).join(", ")}: apt-get install ${[...new Set(missing.map((t) => t.pkg))].join(" ")}`,
    );
}

const SIG: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

let signalsHooked = false;
/**
 * A test process stopped by SIGINT or SIGTERM (a runner's timeout, Ctrl-C) would skip its "exit"
 * handlers, and with them every lab's cleanupSync: exit instead, so they run.
 */
function exitOnSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => process.exit(128 + SIG[sig]!));
}

/** Namespaces, links and processes of one test file; everything it made goes in {@link cleanup}. */
export class NetnsLab {
  readonly prefix: string;
  readonly namespaces: string[] = [];
  readonly #procs = new Set<Spawned>();
  #n = 0;
  readonly #onExit = (): void => this.cleanupSync();

  /** `tag`: 2-3 letters; names are tag + pid + counter (interface names stay under 16 characters). */
  constructor(tag: string) {
    this.prefix = `${tag}${process.pid.toString(36)}`;
    process.on("exit", this.#onExit);
    exitOnSignals();
  }

  /** Runs `ip ARGS` (in the caller's namespace), throwing with its stderr on failure. */
  ip(args: string[]): string {
    const r = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000, env: { ...process.env, PATH } });
    if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr || r.error?.message}`);
    return r.stdout;
  }

  /** Creates a namespace with lo up; returns its name. */
  netns(): string {
    const name = `${this.prefix}${(this.#n++).toString(36)}`;
    this.ip(["netns", "add", name]);
    this.namespaces.push(name);
    this.ip(["-n", name, "link", "set", "lo", "up"]);
    return name;
  }

  /** A veth pair between two namespaces with `a`/`b` (CIDR) on its ends; returns the ends' names. */
  veth(nsA: string, a: string, nsB: string, b: string): [string, string] {
    const ia = `${nsA}a`,
      ib = `${nsB}b`;
    this.ip(["link", "add", ia, "netns", nsA, "type", "veth", "peer", "name", ib, "netns", nsB]);
    this.ip(["-n", nsA, "addr", "add", a, "dev", ia]);
    this.ip(["-n", nsB, "addr", "add", b, "dev", ib]);
    this.ip(["-n", nsA, "link", "set", ia, "up"]);
    this.ip(["-n", nsB, "link", "set", ib, "up"]);
    return [ia, ib];
  }

  /** Runs `cmd` in `ns` to completion, killed (its process group) after `timeoutMs`. Never rejects. */
  exec(ns: string, cmd: string[], timeoutMs = 30_000, env: Record<string, string> = {}): Promise<Ran> {
    return new Promise((resolve) => {
      const child = spawn("ip", ["netns", "exec", ns, ...cmd], {
        env: { ...process.env, PATH, ...env },
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "",
        stderr = "",
        timedOut = false;
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child.pid, "SIGKILL");
      }, timeoutMs);
      child.on("error", (e) => {
        clearTimeout(timer);
        resolve({ code: 127, stdout, stderr: stderr + e.message });
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({
          code: timedOut ? 124 : (code ?? 128),
          stdout,
          stderr: timedOut ? `${stderr}\n${cmd.join(" ")}: killed after ${timeoutMs} ms` : stderr,
        });
      });
    });
  }

  /** Starts `cmd` in `ns` in its own process group; {@link cleanup} kills it at the latest. */
  spawn(ns: string, cmd: string[], env: Record<string, string> = {}): Spawned {
    const child = spawn("ip", ["netns", "exec", ns, ...cmd], {
      env: { ...process.env, PATH, ...env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (child.pid === undefined) throw new Error(`${cmd[0]} did not start`);
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    const exited = new Promise<number>((resolve) =>
      child.on("close", (code, sig) => resolve(code ?? 128 + (SIG[sig ?? ""] ?? 0))),
    );
    let done = false;
    void exited.then(() => {
      done = true;
    });
    const p: Spawned = {
      child,
      pid: child.pid,
      out: () => out,
      exited,
      waitFor(re, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        return new Promise((resolve, reject) => {
          const poll = (): void => {
            const m = re.exec(out);
            if (m) return resolve(m);
            if (done) return reject(new Error(`${cmd.join(" ")} exited before printing ${re}:\n${out}`));
            if (Date.now() > deadline)
              return reject(new Error(`${cmd.join(" ")} printed no ${re} within ${timeoutMs} ms:\n${out}`));
            setTimeout(poll, 25);
          };
          poll();
        });
      },
    };
    this.#procs.add(p);
    void exited.then(() => this.#procs.delete(p));
    return p;
  }

  /** Sends `signal` to the process (not its group: `up` must clean up by itself) and waits at most `timeoutMs` for it to exit. */
  async stop(p: Spawned, signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<number | undefined> {
    // `ip netns exec` execs the command: the PID is the program's own.
    try {
      process.kill(p.pid, signal);
    } catch {
      /* already gone */
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const t = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)));
    try {
      return await Promise.race([p.exited, t]);
    } finally {
      // A pending timer would hold the test process open for the rest of timeoutMs.
      clearTimeout(timer);
    }
  }

  /** Three pings from `ns` to `dst` (0.2 s apart, 2 s wait); stdout and stderr. */
  async ping(ns: string, dst: string, extra: string[] = []): Promise<string> {
    const r = await this.exec(ns, ["ping", "-c", "3", "-i", "0.2", "-W", "2", ...extra, dst], 20_000);
    return r.stdout + r.stderr;
  }

  /** iperf3 for 2 s: server in `srvNs` on `srv`, client in `cliNs` with `args`; the JSON `end` (exit 0 asserted). */
  async iperf(srvNs: string, srv: string, cliNs: string, args: string[]): Promise<IperfEnd> {
    const server = this.spawn(srvNs, ["iperf3", "-s", "-1", "--forceflush", "-B", srv]);
    await server.waitFor(/Server listening/, 5000);
    const r = await this.exec(cliNs, ["iperf3", "-c", srv, "-t", "2", "-J", ...args], 20_000);
    await Promise.race([server.exited, new Promise((res) => setTimeout(res, 5000))]);
    if (r.code !== 0) throw new Error(`iperf3 ${args.join(" ")} exited ${r.code}: ${r.stdout.slice(-2000)}${r.stderr}`);
    return (JSON.parse(r.stdout) as { end: IperfEnd }).end;
  }

  /** Interfaces of type tun in `ns`, and its routes (`ip route` lines, both families). */
  state(ns: string): { tuns: string[]; routes: string[] } {
    const tuns = this.ip(["-n", ns, "-o", "link", "show", "type", "tun"])
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(":")[1]!.trim());
    const routes = [
      ...this.ip(["-n", ns, "route"]).split("\n"),
      ...this.ip(["-n", ns, "-6", "route"]).split("\n"),
    ].filter(Boolean);
    return { tuns, routes };
  }

  /** Namespaces of this lab that still exist, and its processes still running. */
  leftovers(): { namespaces: string[]; pids: number[] } {
    const list = this.ip(["netns", "list"])
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter(Boolean);
    const pids = [...this.#procs].filter((p) => alive(p.pid)).map((p) => p.pid);
    return { namespaces: list.filter((n) => n.startsWith(this.prefix)), pids };
  }

  /** Kills every process group this lab started (TERM, then KILL after 3 s) and deletes its namespaces. */
  async cleanup(): Promise<void> {
    const procs = [...this.#procs];
    for (const p of procs) killGroup(p.pid, "SIGTERM");
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && procs.some((p) => alive(p.pid))) await new Promise((r) => setTimeout(r, 50));
    this.cleanupSync();
  }

  /** The synchronous part of {@link cleanup} (also the exit handler). */
  cleanupSync(): void {
    for (const p of this.#procs) killGroup(p.pid, "SIGKILL");
    this.#procs.clear();
    for (const ns of this.namespaces.splice(0))
      spawnSync("ip", ["netns", "del", ns], { env: { ...process.env, PATH }, timeout: 10_000 });
    process.off("exit", this.#onExit);
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* gone */
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The control-socket request `tunnel-json` of a running `up` (its PID; TMPDIR as the `up` had it). */
export async function tunnelJson(
  pid: number,
  tmp: string,
): Promise<{ tun: string; routes: string[]; addresses: string[]; io: Record<string, unknown> | null }> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(`${tmp}/ipsec-wasm-${pid}.ctl`);
    let data = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("no answer to tunnel-json within 5 s"));
    }, 5000);
    sock.on("connect", () => sock.write("tunnel-json\n"));
    sock.on("data", (d) => (data += d));
    sock.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(data));
      } catch (e) {
        reject(e);
      }
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Two namespaces joined by one veth, with a scratch directory, for a test file's lifetime. */
export interface VethPair {
  readonly lab: NetnsLab;
  /** Scratch directory, removed after the file's tests. */
  readonly work: string;
  /** The namespaces' names: set once the file's `before` ran. */
  nsA: string;
  nsB: string;
}

/**
 * Registers the file's `before` (requireNetns(tools), then `check`, then two namespaces joined by
 * a veth with `aAddr` and `bAddr`, e.g. "198.18.8.1/24") and `after` (everything of the lab and
 * the scratch directory removed).
 */
export function vethPair(
  tag: string,
  aAddr: string,
  bAddr: string,
  tools: { cmd: string; pkg: string }[],
  check?: () => void,
): VethPair {
  const pair: VethPair = {
    lab: new NetnsLab(tag),
    work: mkdtempSync(join(tmpdir(), `ipsec-wasm-${tag}-`)),
    nsA: "",
    nsB: "",
  };
  before(() => {
    requireNetns(tools);
    check?.();
    pair.nsA = pair.lab.netns();
    pair.nsB = pair.lab.netns();
    pair.lab.veth(pair.nsA, aAddr, pair.nsB, bAddr);
  });
  const removeWork = (): void => rmSync(pair.work, { recursive: true, force: true });
  process.on("exit", removeWork); // also when a signal ends the file (exitOnSignals)
  after(async () => {
    await pair.lab.cleanup();
    removeWork();
    process.off("exit", removeWork);
  });
  return pair;
}

/** The two `up --tun` processes of a pair test: A initiates, B listens (`--listen`). */
export interface TunPair {
  a: Spawned;
  b: Spawned;
  tmpA: string;
  tmpB: string;
  tunA: string;
  tunB: string;
}

/** How one side of a pair runs: the command that runs the CLI, its conf file, its environment. */
export interface TunPairSide {
  cmd: string[];
  conf: string;
  env?: Record<string, string>;
}

/**
 * Starts B (`up --listen`) in `veth.nsB`, then A (`up`) in `veth.nsA`, each with its own TUN named
 * after `tag` and its own TMPDIR (the control socket), and waits until both installed their routes.
 */
export async function startTunPair(
  veth: VethPair,
  tag: string,
  side: (which: "a" | "b") => TunPairSide,
  args: string[] = [],
): Promise<TunPair> {
  const { lab, work } = veth;
  const tmpA = join(work, `${tag}-a`),
    tmpB = join(work, `${tag}-b`);
  mkdirSync(tmpA);
  mkdirSync(tmpB);
  const tunA = `${lab.prefix}${tag}a`,
    tunB = `${lab.prefix}${tag}b`;
  const sa = side("a"),
    sb = side("b");
  const b = lab.spawn(veth.nsB, [...sb.cmd, "up", "--listen", "--conf", sb.conf, "--tun", tunB, ...args], {
    TMPDIR: tmpB,
    ...sb.env,
  });
  await b.waitFor(/listening on/, 20_000);
  const a = lab.spawn(veth.nsA, [...sa.cmd, "up", "--conf", sa.conf, "--tun", tunA, ...args], {
    TMPDIR: tmpA,
    ...sa.env,
  });
  await a.waitFor(new RegExp(`${tunA}: routes`), 25_000);
  await b.waitFor(new RegExp(`${tunB}: routes`), 10_000);
  return { a, b, tmpA, tmpB, tunA, tunB };
}

/** The last test of a pair file: no TUN in either namespace, and after cleanup no namespace, process or TUN of the lab. */
export async function assertNothingLeft(veth: VethPair): Promise<void> {
  const { lab } = veth;
  for (const ns of [veth.nsA, veth.nsB]) assert.deepEqual(lab.state(ns).tuns, []);
  await lab.cleanup();
  assert.deepEqual(lab.leftovers(), { namespaces: [], pids: [] });
  assert.doesNotMatch(lab.ip(["-o", "link", "show", "type", "tun"]), new RegExp(lab.prefix));
}
