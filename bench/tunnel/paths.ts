// The anchor paths: plain veth (the ceiling), wireguard-go, strongSwan with kernel-libipsec. Each
// setup builds two namespaces joined by a veth (outer 198.18.0.0/15 only), brings the tunnel up,
// proves it with a ping and returns where iperf3 runs and which PIDs are the tunnel.
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Endpoints } from "./iperf.ts";
import { type Cleanup, exists, have, inNs, must, run, sleep } from "./sys.ts";

/** Per-run names: namespaces and wireguard-go's control sockets are visible to everyone on the machine. */
export interface Ctx {
  tag: string;
  verbose: boolean;
}

export interface PathDef {
  id: string;
  /** Row label in the tables. */
  label: string;
  /** Said beside the row (crypto implementation, I/O mode, caveats). */
  note: string;
  /** Why the path cannot run here, or null. */
  unavailable(): string | null;
  /** Builds the path; everything it creates is registered with `cleanup`. */
  setup(cleanup: Cleanup, ctx: Ctx): Promise<Endpoints>;
}

export const OUTER_A = "198.18.100.1";
export const OUTER_B = "198.18.100.2";

/** Namespaces a and b joined by a veth, outer addresses on it, lo up. */
export function twoNamespaces(cleanup: Cleanup, ctx: Ctx, kind: string): { a: string; b: string } {
  const a = `tbench-${ctx.tag}-${kind}-a`,
    b = `tbench-${ctx.tag}-${kind}-b`;
  cleanup.netns(a);
  cleanup.netns(b);
  // created inside the namespaces: no interface name ever exists in the root namespace
  must("ip", ["link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb", "netns", b]);
  must("ip", ["-n", a, "addr", "add", `${OUTER_A}/24`, "dev", "va"]);
  must("ip", ["-n", b, "addr", "add", `${OUTER_B}/24`, "dev", "vb"]);
  for (const [ns, dev] of [
    [a, "va"],
    [b, "vb"],
    [a, "lo"],
    [b, "lo"],
  ])
    must("ip", ["-n", ns!, "link", "set", dev!, "up"]);
  return { a, b };
}

/** Pings `dst` from `ns` until one answer, bounded; throws with `why()` when the tunnel never carries it. */
export async function pingUntil(
  ns: string,
  dst: string,
  seconds: number,
  why: () => string,
  src?: string,
  gone?: () => string | null,
): Promise<void> {
  const until = Date.now() + seconds * 1000;
  for (let i = 0; i < 60 && Date.now() < until; i++) {
    // a tunnel process that already exited will not answer: say why at once instead of after `seconds`
    const g = gone?.();
    if (g) throw new Error(`${dst} unreachable from ${ns}: ${g}`);
    const args = ["ping", "-c", "1", "-W", "1", ...(src ? ["-I", src] : []), dst];
    if (run("ip", ["netns", "exec", ns, ...args], 5000).code === 0) return;
    await sleep(250);
  }
  throw new Error(`no ping reply from ${dst} in ${ns} within ${seconds} s: ${why().slice(-1500)}`);
}

/** Brings a link up with retries: a race once left a freshly created TUN down (tunnel-anchors README). */
async function linkUp(ns: string, dev: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    run("ip", ["-n", ns, "link", "set", dev, "up"]);
    if (/state (UP|UNKNOWN)/.test(run("ip", ["-n", ns, "link", "show", dev]).out)) return;
    await sleep(100);
  }
  throw new Error(`${dev} in ${ns} stays down`);
}

export const veth: PathDef = {
  id: "veth",
  label: "plain veth",
  note: "no tunnel: the ceiling",
  unavailable: () => (have("iperf3") ? null : "iperf3 is not installed (Debian package iperf3)"),
  async setup(cleanup, ctx) {
    const { a, b } = twoNamespaces(cleanup, ctx, "veth");
    return { serverNs: b, clientNs: a, serverIp: OUTER_B, pids: [] };
  },
};

export const wireguardGo: PathDef = {
  id: "wireguard-go",
  label: "wireguard-go",
  note: "Debian's wireguard-go (userspace, TUN; before upstream's batched I/O)",
  unavailable() {
    const missing = ["iperf3", "wireguard-go", "wg"].filter((c) => !have(c));
    return missing.length
      ? `missing ${missing.join(", ")} (Debian packages iperf3 wireguard-go wireguard-tools)`
      : null;
  },
  async setup(cleanup, ctx) {
    const { a, b } = twoNamespaces(cleanup, ctx, "wg");
    const dir = mkdtempSync(join(tmpdir(), "tbench-wg-"));
    cleanup.add(`rm -r ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    // wireguard-go's control socket /var/run/wireguard/NAME.sock is shared by every namespace: unique names
    const ifa = `tbwg${ctx.tag}a`,
      ifb = `tbwg${ctx.tag}b`;
    const key = (n: string) => {
      const priv = must("wg", ["genkey"]).trim();
      const pub = must("sh", ["-c", `printf '%s\\n' "$0" | wg pubkey`, priv]).trim();
      must("sh", ["-c", `umask 077; printf '%s\\n' "$0" > "$1"`, priv, join(dir, n)]);
      return pub;
    };
    const pubA = key("a.key"),
      pubB = key("b.key");
    const env = { ...process.env, WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "error" };
    const pa = cleanup.spawn(inNs(a, ["wireguard-go", ifa]), env);
    const pb = cleanup.spawn(inNs(b, ["wireguard-go", ifb]), env);
    for (const f of [ifa, ifb])
      cleanup.add(`rm ${f}.sock`, () => rmSync(`/var/run/wireguard/${f}.sock`, { force: true }));
    for (
      let i = 0;
      i < 50 && !(exists(`/var/run/wireguard/${ifa}.sock`) && exists(`/var/run/wireguard/${ifb}.sock`));
      i++
    )
      await sleep(100);
    const peer = (ns: string, dev: string, k: string, pub: string, ep: string, allowed: string) =>
      must("ip", [
        "netns",
        "exec",
        ns,
        "wg",
        "set",
        dev,
        "private-key",
        join(dir, k),
        "listen-port",
        "51820",
        "peer",
        pub,
        "endpoint",
        `${ep}:51820`,
        "allowed-ips",
        allowed,
      ]);
    peer(a, ifa, "a.key", pubB, OUTER_B, "10.201.0.2/32");
    peer(b, ifb, "b.key", pubA, OUTER_A, "10.201.0.1/32");
    must("ip", ["-n", a, "addr", "add", "10.201.0.1/24", "dev", ifa]);
    must("ip", ["-n", b, "addr", "add", "10.201.0.2/24", "dev", ifb]);
    await linkUp(a, ifa);
    await linkUp(b, ifb);
    await pingUntil(
      a,
      "10.201.0.2",
      15,
      () => pa.log() + pb.log(),
      undefined,
      () => {
        const d = [pa, pb].find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
        return d ? `wireguard-go exited: ${d.log().slice(-600)}` : null;
      },
    );
    return { serverNs: b, clientNs: a, serverIp: "10.201.0.2", pids: [pa.pid, pb.pid] };
  },
};

const PEER_SH = fileURLToPath(new URL("../../test/interop/strongswan/peer.sh", import.meta.url));

/** strongSwan's kernel-libipsec (userspace ESP in C over TUN) at both ends, via the interop tests' peer.sh. */
export function strongswan(esp: "aes128gcm16" | "chacha20poly1305"): PathDef {
  return {
    id: `strongswan-${esp}`,
    label: `strongSwan kernel-libipsec ${esp}`,
    note: "charon 5.9 + kernel-libipsec, userspace ESP in C over TUN, ESP in UDP 4500",
    unavailable() {
      if (!exists("/usr/lib/ipsec/charon"))
        return "strongSwan is not installed (Debian packages of .ci/run: strongswan-charon …)";
      if (!exists("/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so"))
        return "kernel-libipsec plugin missing (libcharon-extra-plugins)";
      return have("iperf3") ? null : "iperf3 is not installed";
    },
    async setup(cleanup, ctx) {
      const sr = `tbench-${ctx.tag}-sr`,
        si = `tbench-${ctx.tag}-si`;
      const dir = mkdtempSync(join(tmpdir(), "tbench-swan-"));
      cleanup.add(`rm -r ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
      // per-packet ESP logging slows libipsec down a lot: keep every log level low
      const common = {
        SWAN_LOG_LEVEL: "1",
        SWAN_ESP_LOG_LEVEL: "0",
        SWAN_KEYLOG: "no",
        SWAN_PSK: "tbench-psk-not-secret",
        SWAN_ESP_PROPOSALS: esp,
        PATH: `${process.env.PATH}:/usr/sbin:/sbin`,
      };
      const responder = {
        ...process.env,
        ...common,
        SWAN_NS: sr,
        SWAN_CALLER_NS: si,
        SWAN_DIR: join(dir, "r"),
        SWAN_LOCAL_ADDR: OUTER_B,
        SWAN_REMOTE_ADDR: OUTER_A,
        SWAN_LOCAL_INNER: "203.0.113.2",
        SWAN_LOCAL_TS: "203.0.113.0/24",
        SWAN_REMOTE_TS: "10.201.1.0/24",
      };
      const initiator = {
        ...process.env,
        ...common,
        SWAN_NS: si,
        SWAN_LINK: "none",
        SWAN_ROLE: "initiator",
        SWAN_DIR: join(dir, "i"),
        SWAN_LOCAL_ADDR: OUTER_A,
        SWAN_REMOTE_ADDR: OUTER_B,
        SWAN_LOCAL_ID: "client.example.org",
        SWAN_REMOTE_ID: "swan.example.org",
        SWAN_LOCAL_TS: "10.201.1.1/32",
        SWAN_REMOTE_TS: "203.0.113.0/24",
        SWAN_LOCAL_INNER: "10.201.1.1",
        SWAN_RETRANSMIT_TRIES: "1",
      };
      // peer.sh stop kills charon by its PID and deletes what start created (namespaces, veth, state dir)
      cleanup.add(`peer.sh stop ${sr}`, () => {
        run("bash", [PEER_SH, "stop"], 20_000, responder);
      });
      cleanup.add(`ip netns del ${si}`, () => {
        run("ip", ["netns", "del", si], 10_000);
      });
      must("bash", [PEER_SH, "start"], 30_000, responder);
      cleanup.add(`peer.sh stop ${si}`, () => {
        run("bash", [PEER_SH, "stop"], 20_000, initiator);
      });
      must("bash", [PEER_SH, "start"], 30_000, initiator);
      const pid = (d: string) => Number(readFileSync(join(dir, d, "run", "charon.pid"), "utf8").trim());
      const log = () => run("tail", ["-n", "20", join(dir, "i", "charon.log"), join(dir, "r", "charon.log")]).out;
      await pingUntil(si, "203.0.113.2", 15, log, "10.201.1.1");
      return { serverNs: sr, clientNs: si, serverIp: "203.0.113.2", bindIp: "10.201.1.1", pids: [pid("r"), pid("i")] };
    },
  };
}
