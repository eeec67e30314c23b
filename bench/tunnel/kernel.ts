// The Linux kernel's own ESP, measured inside user-mode Linux (Debian's linux.uml, built into an
// initramfs by uml/build.sh): this host's kernel has XFRM but no ESP, and /dev/kvm here cannot
// boot a stock kernel (a PVM guest), so UML is the one kernel that runs natively. It runs on one
// CPU with generic C crypto (no AES-NI), and iperf3's both ends run inside the same guest: the
// CPU charged to this row is the whole UML process tree. The guest prints markers around each
// iperf3 run; the CPU is sampled when a marker line arrives.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Measurement, type Mode, type Sample, sample, toMeasurement } from "./iperf.ts";
import type { PathDef } from "./paths.ts";
import { type Cleanup, exists, processTree, run, sleep } from "./sys.ts";

const BUILD = fileURLToPath(new URL("./uml/build.sh", import.meta.url));
const UML = "/usr/bin/linux.uml";
const CACHE = process.env.UML_CACHE ?? "/var/cache/ipsec-wasm-bench-uml";

export type KernelAlgo = "none" | "aes128gcm16" | "chacha20poly1305";

/** A path measured by a whole guest run rather than by iperf3 on the host. */
export interface GuestPathDef extends PathDef {
  measureAll(cleanup: Cleanup, modes: Mode[], rep: number, seconds: number, verbose: boolean): Promise<Measurement[]>;
}

let built: string | null | undefined;
/** Runs uml/build.sh once per process (idempotent, seconds); the reason when it fails. */
function buildOnce(): string | null {
  if (built === undefined) {
    const r = run("bash", [BUILD], 600_000, { ...process.env, UML_CACHE: CACHE });
    built = r.code === 0 ? null : `bench/tunnel/uml/build.sh failed: ${(r.err || r.out).trim().slice(-400)}`;
  }
  return built;
}

export function kernelUml(algo: KernelAlgo): GuestPathDef {
  return {
    id: `kernel-uml-${algo}`,
    label: algo === "none" ? "Linux kernel (UML), no ESP" : `Linux kernel ESP (UML) ${algo}`,
    note:
      algo === "none"
        ? "the same veth inside UML without ESP: UML's own ceiling"
        : "generic C crypto (UML has no AES-NI), 1 CPU, iperf3 inside the guest; CPU = whole guest",
    unavailable() {
      if (process.arch !== "x64" || process.platform !== "linux") return "user-mode Linux needs Linux on x86-64";
      return buildOnce() ?? (exists(UML) ? null : `${UML} missing (Debian package user-mode-linux)`);
    },
    setup() {
      throw new Error("kernel-uml paths are measured with measureAll");
    },
    async measureAll(cleanup, modes, rep, seconds, verbose) {
      // UML backs guest RAM with a file in TMPDIR: on tmpfs it never touches the disk
      const dir = mkdtempSync(join(exists("/dev/shm") ? "/dev/shm" : tmpdir(), "tbench-uml-"));
      cleanup.add(`rm -r ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
      const args = [
        `mem=256M`,
        `uml_dir=${dir}`,
        `initrd=${join(CACHE, "initramfs.cpio")}`,
        "rdinit=/init",
        "con=null",
        "con0=null,fd:1",
        "ssl=null",
        "panic=-1",
        "quiet",
        "loglevel=1",
        `tb.algo=${algo}`,
        `tb.modes=${modes.join(",")}`,
        `tb.t=${seconds}`,
      ];
      // SIGTERM to the main UML process takes its host processes with it; should one outlive it,
      // it is killed by the PID seen in the last sample (registered first, so it runs last)
      let seen: number[] = [];
      cleanup.add("UML leftovers", () => {
        for (const pid of seen) {
          let cmd: string;
          try {
            cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
          } catch {
            continue;
          }
          if (cmd.includes(`uml_dir=${dir}`)) process.kill(pid, "SIGKILL"); // ours: this run's own uml_dir
        }
      });
      const p = cleanup.spawn([UML, ...args], { ...process.env, TMPDIR: dir });
      const ep = { pids: [], treeRoots: [p.pid] };
      const track = setInterval(() => {
        seen = processTree(p.pid);
      }, 1000);
      cleanup.add("stop tracking", () => clearInterval(track));
      const out: Measurement[] = [];
      const begin = new Map<string, Sample>(),
        end = new Map<string, Sample>();
      let json: string[] | null = null,
        jsonMode = "",
        exit: number | null = null;
      const errors: string[] = [];
      const lines = createInterface({ input: p.child.stdout! });
      const done = new Promise<void>((resolve) => {
        lines.on("line", (line) => {
          if (verbose) console.error(`  uml: ${line.slice(0, 200)}`);
          const m = /^@@TB-(\w+(?:-\w+)?)\s*(.*)$/.exec(line.trim());
          if (json && m?.[1] !== "JSON-END") {
            json.push(line);
            return;
          }
          if (!m) return;
          const [, tag, arg] = m;
          if (tag === "BEGIN") begin.set(arg!, sample(ep));
          else if (tag === "END") end.set(arg!, sample(ep));
          else if (tag === "JSON") {
            json = [];
            jsonMode = arg!;
          } else if (tag === "JSON-END" && json) {
            const s0 = begin.get(jsonMode),
              s1 = end.get(jsonMode);
            if (s0 && s1) out.push(toMeasurement(json.join("\n"), "", jsonMode as Mode, rep, seconds, s0, s1, true));
            json = null;
          } else if (tag === "ERROR") errors.push(arg!);
          else if (tag === "EXIT") exit = Number(arg);
        });
        p.child.on("exit", () => resolve());
      });
      const limit = (30 + modes.length * (seconds + 25)) * 1000;
      const ended = await Promise.race([done.then(() => true), sleep(limit).then(() => false)]);
      lines.close();
      if (exit === null) {
        errors.push(
          ended
            ? `the UML guest ended without a result (exit ${p.child.exitCode ?? p.child.signalCode}): ${p.log().slice(-300)}`
            : `the UML guest did not finish within ${limit / 1000} s: ${p.log().slice(-300)}`,
        );
      }
      for (const mode of modes) {
        if (!out.some((m) => m.mode === mode)) {
          const s = sample(ep);
          out.push({
            ...toMeasurement("", errors.join("; ") || "no result from the guest", mode, rep, seconds, s, s, false),
          });
        }
      }
      return out;
    },
  };
}
