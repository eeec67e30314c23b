// ipsec-wasm at both ends: `ipsec-wasm up --tun NAME --conf FILE [--listen] [--io dgram|mmsg]
// [--workers N]` in each namespace, IKEv2 over the veth, ESP in UDP, the kernel's own stack
// carrying iperf3 through the TUNs. Which variants run is decided by what `up --help` offers, so
// a CLI without --tun (or --io, --workers) yields "not available: …" rows, never a number.
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PathDef } from "./paths.ts";
import { OUTER_A, OUTER_B, pingUntil, twoNamespaces } from "./paths.ts";
import { exists, have, inNs, run } from "./sys.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DIST_MAIN = join(ROOT, "dist/cli/main.js");

let snapshot: string | undefined;
/**
 * The built CLI, copied once per bench run (package.json for `#wasm`, bin/, dist/; node_modules
 * linked): other work rebuilding dist/ during a 30-minute run once removed dist/cli/main.js under
 * a starting `up`. Removed when the bench exits.
 */
export function cli(): string {
  if (!snapshot) {
    snapshot = mkdtempSync(join(tmpdir(), "tbench-cli-"));
    const dir = snapshot;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    for (const f of ["package.json", "bin", "dist"]) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  }
  return join(snapshot, "bin/ipsec-wasm.mjs");
}

export type Io = "dgram" | "mmsg";
export interface OursVariant {
  esp: "aes128gcm16" | "chacha20poly1305";
  io: Io;
  workers: 1 | 2;
  /**
   * TUN offloads (virtio_net_hdr: TSO/USO reads, GRO writes) and UDP GRO on the ESP socket; false
   * runs `up` with IPSEC_WASM_TUN_OFFLOAD=off and IPSEC_WASM_UDP_GRO=off (the path before them). Default on.
   */
  offload?: boolean;
}

let helpCache: string | undefined;
/** `ipsec-wasm up --help` of the built CLI (dist/), or "" when it does not run. */
function upHelp(): string {
  if (helpCache === undefined) {
    const r = run(process.execPath, [cli(), "up", "--help"], 20_000);
    helpCache = r.code === 0 ? r.out + r.err : "";
  }
  return helpCache;
}

/** Why this variant cannot run with the CLI as built, or null. */
export function oursUnavailable(v: OursVariant): string | null {
  if (!exists(DIST_MAIN)) return "dist/ is not built (npm run build)";
  if (!have("iperf3")) return "iperf3 is not installed";
  const help = upHelp();
  if (!help) return "`ipsec-wasm up --help` failed";
  if (!help.includes("--tun")) return "`ipsec-wasm up` has no --tun yet (TUN device and batched I/O: issue 15)";
  if (!help.includes("--io")) return "`ipsec-wasm up` has no --io dgram|mmsg";
  if (!/\bmmsg\b/.test(help) && v.io === "mmsg") return "`ipsec-wasm up --io` does not offer mmsg";
  if (v.workers > 1 && !help.includes("--workers")) return "`ipsec-wasm up` has no --workers yet";
  // "the kernel steers ESP to it by SPI (mmsg only)": a second worker needs the libc UDP socket
  if (v.workers > 1 && v.io === "dgram" && /mmsg only/.test(help.slice(help.indexOf("--workers N")))) {
    return "`up --workers 2` needs --io mmsg (the second worker's ESP socket is steered by SPI)";
  }
  return null;
}

function conf(me: "a" | "b", esp: string): string {
  const [local, remote] = me === "a" ? [OUTER_A, OUTER_B] : [OUTER_B, OUTER_A];
  const [lts, rts] = me === "a" ? ["10.201.2.1/32", "10.201.2.2/32"] : ["10.201.2.2/32", "10.201.2.1/32"];
  return `connections {
  bench {
    local_addrs = ${local}
    remote_addrs = ${remote}
    proposals = aes128gcm16-prfsha256-x25519
    local {
      auth = psk
      id = ${me}.bench.example.org
    }
    remote {
      auth = psk
      id = ${me === "a" ? "b" : "a"}.bench.example.org
    }
    children {
      net {
        local_ts = ${lts}
        remote_ts = ${rts}
        esp_proposals = ${esp}
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = a.bench.example.org
    id-2 = b.bench.example.org
    secret = tbench-psk-not-secret
  }
}
`;
}

export function ours(v: OursVariant): PathDef {
  const off = v.offload === false;
  const id = `ipsec-wasm-${v.esp}-${v.io}-w${v.workers}${off ? "-nooffload" : ""}`;
  return {
    id,
    label: `ipsec-wasm ${v.esp}, --io ${v.io}, ${v.workers} worker${v.workers > 1 ? "s" : ""}${off ? ", offloads off" : ""}`,
    note: `WebAssembly SIMD dataplane (no AES-NI), Node, TUN; UDP via ${v.io === "mmsg" ? "recvmmsg/sendmmsg (koffi)" : "node:dgram"}`,
    unavailable: () => oursUnavailable(v),
    async setup(cleanup, ctx) {
      const { a, b } = twoNamespaces(cleanup, ctx, "iw");
      const dir = mkdtempSync(join(tmpdir(), "tbench-iw-"));
      cleanup.add(`rm -r ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
      const start = (me: "a" | "b", ns: string) => {
        const file = join(dir, `${me}.conf`);
        writeFileSync(file, conf(me, v.esp), { mode: 0o600 });
        const tmp = join(dir, `tmp-${me}`);
        run("mkdir", ["-p", tmp]);
        const args = ["up", "--tun", `tbiw${ctx.tag}${me}`, "--conf", file, "--io", v.io, "-q"];
        if (v.workers > 1 || upHelp().includes("--workers")) args.push("--workers", String(v.workers));
        if (me === "b") args.push("--listen");
        // TMPDIR of its own: `up` keeps its control socket there
        return cleanup.spawn(inNs(ns, [process.execPath, cli(), ...args]), {
          ...process.env,
          TMPDIR: tmp,
          IPSEC_WASM_TUN_OFFLOAD: off ? "off" : "on",
          IPSEC_WASM_UDP_GRO: off ? "off" : "on",
        });
      };
      const pb = start("b", b);
      const pa = start("a", a);
      const dead = () => [pa, pb].find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
      await pingUntil(
        a,
        "10.201.2.2",
        30,
        () => `a: ${pa.log()}\nb: ${pb.log()}`,
        undefined,
        () =>
          dead()
            ? `\`up\` exited (${dead()!.child.exitCode ?? dead()!.child.signalCode}): ${dead()!.log().slice(-600)}`
            : null,
      );
      return { serverNs: b, clientNs: a, serverIp: "10.201.2.2", pids: [pa.pid, pb.pid] };
    },
  };
}
