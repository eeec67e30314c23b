// Processes, namespaces and CPU accounting for the tunnel benchmark. Everything started or created
// goes through a Cleanup, which kills by PID and deletes by name, in reverse order, in a finally
// (and on SIGINT/SIGTERM), so a failed run leaves no process, namespace or veth behind.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Exit status and output of a bounded command (124 when the timeout killed it, as timeout(1)). */
export interface Result {
  code: number;
  out: string;
  err: string;
}

/** Runs a command to completion, killed after `timeoutMs`; never throws. */
export function run(cmd: string, args: string[], timeoutMs = 30_000, env?: NodeJS.ProcessEnv): Result {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: timeoutMs,
    env: env ?? process.env,
    killSignal: "SIGKILL",
  });
  const code = r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT" ? 124 : (r.status ?? 125);
  return { code, out: r.stdout ?? "", err: (r.stderr ?? "") + (r.error && code !== 124 ? String(r.error) : "") };
}

/** Like run, but throws with the command and its stderr when it fails. */
export function must(cmd: string, args: string[], timeoutMs = 30_000, env?: NodeJS.ProcessEnv): string {
  const r = run(cmd, args, timeoutMs, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.code}: ${(r.err || r.out).trim().slice(-600)}`);
  return r.out;
}

/** `ip netns exec NS cmd...` as an argv. */
export const inNs = (ns: string, cmd: string[]): string[] => ["ip", "netns", "exec", ns, ...cmd];

/** Undo actions run newest first; each one is bounded and may fail without stopping the others. */
export class Cleanup {
  readonly #undo: { what: string; fn: () => void | Promise<void> }[] = [];
  readonly #children = new Set<ChildProcess>();

  add(what: string, fn: () => void | Promise<void>): void {
    this.#undo.push({ what, fn });
  }

  /** Spawns a long-running process (output appended to a string kept for error messages), killed by PID at cleanup. */
  spawn(
    argv: string[],
    env?: NodeJS.ProcessEnv,
    keepChars = 8000,
  ): { child: ChildProcess; pid: number; log: () => string; out: () => string } {
    const child = spawn(argv[0]!, argv.slice(1), { env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let log = "",
      out = "";
    const keep = (b: Buffer) => {
      log = (log + b.toString()).slice(-keepChars);
    };
    child.stdout.on("data", (b: Buffer) => {
      keep(b);
      out = (out + b.toString()).slice(-keepChars);
    });
    child.stderr.on("data", keep);
    child.on("error", (e) => {
      log += `\nspawn error: ${e.message}`;
    });
    if (child.pid === undefined) throw new Error(`could not start ${argv.join(" ")}`);
    this.#children.add(child);
    child.on("exit", () => this.#children.delete(child));
    const pid = child.pid;
    this.add(`kill ${pid} (${argv.slice(argv[0] === "ip" ? 4 : 0, 6).join(" ")})`, () => killPid(child));
    return { child, pid, log: () => log, out: () => out };
  }

  /** A namespace, deleted at cleanup (its veth ends go with it). */
  netns(name: string): void {
    must("ip", ["netns", "add", name]);
    this.add(`ip netns del ${name}`, () => {
      run("ip", ["netns", "del", name], 10_000);
    });
  }

  async run(): Promise<void> {
    while (this.#undo.length > 0) {
      const u = this.#undo.pop()!;
      try {
        await Promise.race([u.fn(), sleep(15_000)]);
      } catch (e) {
        console.error(`cleanup: ${u.what}: ${(e as Error).message}`);
      }
    }
  }
}

/** SIGTERM, up to 3 s for the exit, then SIGKILL: by the child's own PID only. */
export async function killPid(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  if (await Promise.race([gone.then(() => true), sleep(3000).then(() => false)])) return;
  child.kill("SIGKILL");
  await Promise.race([gone, sleep(2000)]);
}

// ---------------------------------------------------------------- accounting

export const CLK_TCK = Number(run("getconf", ["CLK_TCK"]).out.trim()) || 100;

/** utime + stime (+ waited-for children) of a PID, in clock ticks; 0 when it is gone. Threads are included. */
export function pidTicks(pid: number, withChildren = false): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after the ")" that ends comm: state is field 3, utime 14, stime 15, cutime 16, cstime 17
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    const t = Number(f[11]) + Number(f[12]);
    return withChildren ? t + Number(f[13]) + Number(f[14]) : t;
  } catch {
    return 0;
  }
}

/** Every PID whose parent chain leads to `root` (root included): UML runs guest processes as host children. */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of safeReaddir("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const out = [root];
  for (let grew = true, rounds = 0; grew && rounds < 64; rounds++) {
    grew = false;
    for (const [p, pp] of parent)
      if (!out.includes(p) && out.includes(pp)) {
        out.push(p);
        grew = true;
      }
  }
  return out.filter((p) => parent.has(p));
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** CPU seconds used so far by these processes (and, for `tree` roots, their descendants). */
export function cpuSeconds(pids: number[], treeRoots: number[] = []): number {
  let t = 0;
  for (const p of pids) t += pidTicks(p);
  for (const r of treeRoots) for (const p of processTree(r)) t += pidTicks(p, p === r);
  return t / CLK_TCK;
}

/** The whole machine's busy and total jiffies (/proc/stat "cpu" line). */
export function machineTicks(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
  return { busy, total: busy + f[3]! + f[4]! };
}

export const load1 = (): number => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

export const have = (cmd: string): boolean =>
  run("sh", ["-c", `PATH="$PATH:/usr/sbin:/sbin" command -v ${cmd}`]).code === 0;

export const exists = existsSync;
