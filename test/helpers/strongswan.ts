// A real strongSwan IKEv2/ESP peer for interop tests, driven through test/interop/strongswan/peer.sh.
// The peer runs in its own network namespace; the code under test must run in the caller namespace
// (inCaller / spawnInCaller), which is the only place with a route to it:
//
//   ns <ns>-client (caller)  <ns>-c 198.18.0.1/24  <--veth-->  <ns>-p 198.18.0.2/24  ns <ns> (charon)
//                                                              lo 203.0.113.2, ipsec0 (userspace ESP)
//
// Namespaces are unique per process and instance, so parallel test files and people do not collide.
// Everything needs root (or passwordless sudo). When strongSwan is missing, starting a peer throws:
// a missing package is a red test, never a skipped one.
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { repoPath, tempDir } from "./interop.ts";

/** The peer script this helper drives. */
export const PEER_SCRIPT = repoPath("test/interop/strongswan/peer.sh");
/** Generates a throwaway CA + two leaf certificates (see makeTestPki). */
export const MAKE_CERTS_SCRIPT = repoPath("test/interop/strongswan/make-certs.sh");
/** Debian's charon binary, which peer.sh starts. */
export const CHARON = "/usr/lib/ipsec/charon";
/** The plugin that does ESP in userspace (this kernel has XFRM without ESP). */
export const KERNEL_LIBIPSEC = "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so";
/** strongSwan's outer address (IKE on UDP 500/4500, ESP in UDP 4500). */
export const PEER_ADDR = "198.18.0.2";
/** The caller's outer address, on the veth in the caller namespace. */
export const CALLER_ADDR = "198.18.0.1";
/** Address on the peer's lo, reachable through the tunnel (ping target); in its TS 203.0.113.0/24. */
export const PEER_INNER_ADDR = "203.0.113.2";
/** The caller's side of the tunnel: TS 198.51.100.0/24 (propose e.g. 198.51.100.1/32). */
export const CALLER_INNER_ADDR = "198.51.100.1";
/** IDs (FQDN) and PSK the peer is configured with unless SWAN_* says otherwise. */
export const SWAN_DEFAULTS = {
  peerId: "swan.example.org",
  callerId: "client.example.org",
  psk: "interop-test-psk-not-secret",
  peerTs: "203.0.113.0/24",
  callerTs: "198.51.100.0/24",
} as const;

/** Packages to name when something is missing (the same list .ci/run installs). */
const PACKAGES =
  "strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins " +
  "libstrongswan-extra-plugins strongswan-pki libcharon-extauth-plugins iproute2 util-linux tcpdump iputils-ping openssl";

/** How to start a peer. */
export interface SwanPeerOptions {
  /** Peer namespace (also names its state dir); default unique per process and call. */
  ns?: string;
  /** responder (default): waits for the caller. initiator: strongSwan initiates to 198.18.0.1 on initiate(). */
  role?: "responder" | "initiator";
  /** SWAN_* settings for peer.sh (see test/interop/README.md), e.g. { SWAN_ESP_PROPOSALS: "aes128gcm16" }. */
  env?: Record<string, string>;
  /** initiator only: initiate as part of start (default false: the caller namespace only exists after start). */
  initiateOnStart?: boolean;
}

/** Exit code and output of a bounded command; code 124 (as timeout(1)) when it was killed for taking too long. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for commands run in the caller namespace. */
export interface CallerCommandOptions {
  /** Killed after this long (default 30 s). */
  timeoutMs?: number;
  /** Added to the environment. */
  env?: Record<string, string>;
  /** Working directory (default the repository root, so `node --import tsx` resolves). */
  cwd?: string;
}

/** One running charon instance, whatever its place in the topology. */
export interface SwanCharon {
  /** Namespace charon runs in. */
  readonly ns: string;
  /** Its state dir: configs, charon.log, keys.log, vici socket. */
  readonly dir: string;
  /** PID of charon (it lives until stop()). */
  readonly charonPid: number;
  /** Wall-clock time of `peer.sh start`, ms. */
  readonly startMs: number;
  /** charon's log, whole or the last `lines` lines. */
  logs(lines?: number): Promise<string>;
  /** `swanctl --list-sas`: IKE/CHILD SAs with byte and packet counters. */
  sas(): Promise<string>;
  /** Any swanctl command against this instance (the vici URI is added). */
  swanctl(...args: string[]): Promise<string>;
  /** Initiates the configured connection and waits for the CHILD_SA (bounded by SWAN_INITIATE_TIMEOUT, 10 s). */
  initiate(): Promise<string>;
  /** Terminates every IKE_SA, half-open ones too, without waiting for DELETE retransmits. */
  terminate(): Promise<string>;
  /** Regenerates swanctl.conf from the start settings plus `env` and loads it; existing SAs stay. */
  reload(env?: Record<string, string>): Promise<string>;
  /** Any other peer.sh command (capture-start, capture-stop, keys DIR, decrypt PCAP, status, config). */
  script(...args: string[]): Promise<CommandResult>;
  /** Stops charon and removes what start created (namespaces, veth, state dir). Idempotent. */
  stop(): Promise<void>;
}

/** A strongSwan peer in its own namespace plus the caller namespace the code under test runs in. */
export interface SwanPeer extends SwanCharon {
  /** Namespace for the code under test. */
  readonly callerNs: string;
  readonly peerAddr: typeof PEER_ADDR;
  readonly callerAddr: typeof CALLER_ADDR;
  /** Runs a command inside the caller namespace (where our library must run), bounded by timeoutMs. */
  inCaller(cmd: string[], opts?: CallerCommandOptions): Promise<CommandResult>;
  /** Spawns a long-running command in the caller namespace (pipes on stdio); killed by stop() at the latest. */
  spawnInCaller(cmd: string[], opts?: CallerCommandOptions): ChildProcess;
  /** Runs a command inside the peer's namespace, bounded by timeoutMs. */
  inPeer(cmd: string[], opts?: CallerCommandOptions): Promise<CommandResult>;
}

const isRoot = (): boolean => process.getuid?.() === 0;

let sudoChecked: boolean | undefined;
function sudoWorks(): boolean {
  sudoChecked ??= spawnSync("sudo", ["-n", "true"], { stdio: "ignore", timeout: 5000 }).status === 0;
  return sudoChecked;
}

/** Whether this machine can run the peer: Linux, root (or sudo -n), charon with kernel-libipsec, swanctl, ip netns, TUN. */
export function strongswanAvailable(): { ok: boolean; why?: string } {
  if (process.platform !== "linux")
    return { ok: false, why: `strongSwan interop needs Linux (this is ${process.platform})` };
  if (!isRoot() && !sudoWorks()) {
    return { ok: false, why: "strongSwan interop needs root or passwordless sudo (network namespaces, veth, TUN)" };
  }
  const missing: string[] = [];
  try {
    accessSync(CHARON, constants.X_OK);
  } catch {
    missing.push(`${CHARON} (strongswan-charon)`);
  }
  if (!existsSync(KERNEL_LIBIPSEC)) missing.push(`${KERNEL_LIBIPSEC} (libcharon-extra-plugins)`);
  for (const [tool, pkg] of [
    ["swanctl", "strongswan-swanctl"],
    ["ip", "iproute2"],
    ["unshare", "util-linux"],
    ["openssl", "openssl"],
  ]) {
    if (spawnSync("sh", ["-c", `PATH="$PATH:/usr/sbin:/sbin" command -v ${tool}`], { stdio: "ignore" }).status !== 0) {
      missing.push(`${tool} (${pkg})`);
    }
  }
  if (!existsSync("/dev/net/tun")) missing.push("/dev/net/tun (kernel TUN support, needed by kernel-libipsec)");
  if (missing.length > 0) {
    return {
      ok: false,
      why: `strongSwan interop: missing ${missing.join(", ")}; install the Debian packages: apt-get install ${PACKAGES}`,
    };
  }
  const netns = privilegedSync(["ip", "netns", "list"]);
  if (netns.status !== 0) return { ok: false, why: `'ip netns list' failed: ${netns.stderr.trim()}` };
  return { ok: true };
}

/** Throws with the reason when strongswanAvailable() is not ok. */
export function requireStrongswan(): void {
  const a = strongswanAvailable();
  if (!a.ok) throw new Error(a.why);
}

/** Network namespaces that exist now (`ip netns list`, names only). */
export function listNetns(): string[] {
  const r = privilegedSync(["ip", "netns", "list"]);
  return r.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n !== "");
}

/** PATH with the sbin directories, where ip and swanctl live. */
function sbinPath(): string {
  return `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin`;
}

/** The command line and environment to run `cmd` as root: directly, or through `sudo -n env ...`. */
function privileged(
  cmd: string[],
  env: Record<string, string> = {},
): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  if (isRoot()) {
    return { file: cmd[0]!, args: cmd.slice(1), env: { ...process.env, PATH: sbinPath(), ...env } };
  }
  const pairs = Object.entries({ PATH: sbinPath(), ...env }).map(([k, v]) => `${k}=${v}`);
  return { file: "sudo", args: ["-n", "env", ...pairs, ...cmd], env: process.env };
}

function privilegedSync(
  cmd: string[],
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): { status: number | null; stdout: string; stderr: string } {
  const p = privileged(cmd, env);
  const r = spawnSync(p.file, p.args, { env: p.env, encoding: "utf8", timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Runs `cmd` as root, collecting output; never rejects (timeouts give code 124). */
function runPrivileged(cmd: string[], opts: CallerCommandOptions = {}): Promise<CommandResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const p = privileged(cmd, opts.env);
  return new Promise((resolve) => {
    // sudo relays SIGTERM to its child but cannot relay SIGKILL
    const child = spawn(p.file, p.args, {
      env: p.env,
      cwd: opts.cwd ?? repoPath(""),
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
      killSignal: isRoot() ? "SIGKILL" : "SIGTERM",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e) => resolve({ code: 127, stdout, stderr: `${stderr}${e.message}\n` }));
    child.on("close", (code, signal) => {
      if (code === null) {
        resolve({ code: 124, stdout, stderr: `${stderr}${cmd.join(" ")}: killed (${signal}) after ${timeoutMs} ms\n` });
      } else {
        resolve({ code, stdout, stderr });
      }
    });
  });
}

/** Live instances, stopped (newest first) if the process exits without stop(). */
const live: SwanCharon[] = [];
const liveSync = new Map<SwanCharon, () => void>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanup = (): void => {
    for (const c of [...live].reverse()) liveSync.get(c)?.();
  };
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      cleanup();
      process.exit(128 + (sig === "SIGINT" ? 2 : 15));
    });
  }
}

let counter = 0;
/** A namespace name unique to this process: short, because interface names are derived from it (15 chars max). */
function uniqueNs(): string {
  counter += 1;
  return `swt${process.pid.toString(36)}${counter.toString(36)}`;
}

/** Environment for peer.sh: the start settings, never SWAN_* leaking in from the test process. */
function scriptEnv(ns: string, env: Record<string, string>): Record<string, string> {
  const archive = process.env.IPSEC_WASM_SWAN_ARCHIVE;
  return { ...(archive ? { SWAN_ARCHIVE_DIR: `${archive}/${ns}` } : {}), ...env, SWAN_NS: ns };
}

async function runScript(env: Record<string, string>, args: string[], timeoutMs: number): Promise<CommandResult> {
  return runPrivileged(["bash", PEER_SCRIPT, ...args], { env, timeoutMs });
}

async function checked(env: Record<string, string>, args: string[], timeoutMs = 20_000): Promise<string> {
  const r = await runScript(env, args, timeoutMs);
  if (r.code !== 0) {
    throw new Error(`peer.sh ${args.join(" ")} (SWAN_NS=${env.SWAN_NS}) exited ${r.code}:\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** Starts charon via peer.sh and wraps it; `env` must hold SWAN_NS. */
async function startCharon(env: Record<string, string>): Promise<SwanCharon & { spawned: Set<ChildProcess> }> {
  requireStrongswan();
  installExitHook();
  const ns = env.SWAN_NS;
  const dir = env.SWAN_DIR ?? `/tmp/ipsec-wasm-swan/${ns}`;
  let startEnv = env;
  const t0 = performance.now();
  await checked(startEnv, ["start"], 30_000);
  const startMs = performance.now() - t0;
  const pidText = privilegedSync(["cat", `${dir}/run/charon.pid`]).stdout.trim();
  const spawned = new Set<ChildProcess>();
  let stopped = false;

  const killSpawned = (): void => {
    for (const c of spawned) if (c.pid !== undefined && c.exitCode === null) c.kill("SIGKILL");
    spawned.clear();
  };
  const charon: SwanCharon & { spawned: Set<ChildProcess> } = {
    ns: ns!,
    dir,
    charonPid: Number(pidText),
    startMs,
    spawned,
    logs: (lines) => checked(startEnv, lines === undefined ? ["logs"] : ["logs", String(lines)]),
    sas: () => checked(startEnv, ["sas"]),
    swanctl: (...args) => checked(startEnv, ["swanctl", ...args]),
    initiate: () => checked(startEnv, ["initiate"], 30_000),
    terminate: async () => {
      const r = await runScript(startEnv, ["flush"], 20_000);
      if (r.code !== 0) throw new Error(`peer.sh flush exited ${r.code}:\n${r.stderr}`);
      return r.stderr;
    },
    reload: async (more = {}) => {
      startEnv = { ...startEnv, ...more, SWAN_NS: ns! };
      const r = await runScript(startEnv, ["reload"], 20_000);
      if (r.code !== 0) throw new Error(`peer.sh reload exited ${r.code}:\n${r.stderr}${r.stdout}`);
      return r.stdout + r.stderr;
    },
    script: (...args) => runScript(startEnv, args, 30_000),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      killSpawned();
      const r = await runScript(startEnv, ["stop"], 30_000);
      if (live.includes(charon)) live.splice(live.indexOf(charon), 1);
      liveSync.delete(charon);
      if (r.code !== 0) throw new Error(`peer.sh stop (SWAN_NS=${ns}) exited ${r.code}:\n${r.stderr}`);
    },
  };
  live.push(charon);
  liveSync.set(charon, () => {
    if (stopped) return;
    stopped = true;
    killSpawned();
    privilegedSync(["bash", PEER_SCRIPT, "stop"], startEnv, 30_000);
  });
  return charon;
}

/**
 * Starts a strongSwan peer in a fresh namespace (and a fresh caller namespace `<ns>-client`) and
 * waits until charon answers on vici with its configuration loaded (~0.1-0.4 s). Throws when
 * strongSwan is unavailable (see strongswanAvailable) or charon does not come up.
 */
export async function startSwanPeer(opts: SwanPeerOptions = {}): Promise<SwanPeer> {
  const ns = opts.ns ?? uniqueNs();
  const env = scriptEnv(ns, {
    ...(opts.role ? { SWAN_ROLE: opts.role } : {}),
    SWAN_INITIATE_ON_START: opts.initiateOnStart ? "yes" : "no",
    ...opts.env,
  });
  const callerNs = env.SWAN_CALLER_NS ?? `${ns}-client`;
  if (callerNs === ".") throw new Error("SWAN_CALLER_NS=. (the test's own namespace) is not supported by this helper");
  const charon = await startCharon(env);
  const inNs = (target: string, cmd: string[], o: CallerCommandOptions = {}): Promise<CommandResult> =>
    runPrivileged(["ip", "netns", "exec", target, ...cmd], o);
  return {
    ...charon,
    callerNs,
    peerAddr: PEER_ADDR,
    callerAddr: CALLER_ADDR,
    inCaller: (cmd, o) => inNs(callerNs, cmd, o),
    inPeer: (cmd, o) => inNs(ns, cmd, o),
    spawnInCaller: (cmd, o = {}) => {
      const p = privileged(["ip", "netns", "exec", callerNs, ...cmd], o.env);
      const child = spawn(p.file, p.args, {
        env: p.env,
        cwd: o.cwd ?? repoPath(""),
        stdio: ["pipe", "pipe", "pipe"],
        timeout: o.timeoutMs ?? 60_000,
        killSignal: isRoot() ? "SIGKILL" : "SIGTERM",
      });
      charon.spawned.add(child);
      child.on("exit", () => charon.spawned.delete(child));
      return child;
    },
  };
}

/**
 * Starts a second charon inside `peer`'s caller namespace, configured as the mirror image of the
 * peer's defaults (IDs, TS 198.51.100.1/32 <-> 203.0.113.0/24, 198.51.100.1 on its lo), as the
 * initiator: a stand-in for our library that proves the harness on its own. Call initiate() on it,
 * and stop it before the peer (whose stop deletes the namespace it lives in).
 */
export async function startSwanInCaller(peer: SwanPeer, env: Record<string, string> = {}): Promise<SwanCharon> {
  return startCharon(
    scriptEnv(peer.callerNs, {
      SWAN_LINK: "none",
      SWAN_ROLE: "initiator",
      SWAN_INITIATE_ON_START: "no",
      SWAN_LOCAL_ADDR: CALLER_ADDR,
      SWAN_REMOTE_ADDR: PEER_ADDR,
      SWAN_LOCAL_ID: SWAN_DEFAULTS.callerId,
      SWAN_REMOTE_ID: SWAN_DEFAULTS.peerId,
      SWAN_LOCAL_TS: `${CALLER_INNER_ADDR}/32`,
      SWAN_REMOTE_TS: SWAN_DEFAULTS.peerTs,
      SWAN_LOCAL_INNER: CALLER_INNER_ADDR,
      SWAN_KEYLOG: "no",
      SWAN_RETRANSMIT_TRIES: "1",
      SWAN_INITIATE_TIMEOUT: "8",
      ...env,
    }),
  );
}

/** A throwaway CA and two leaf certificates in a temp dir (PEM; keys PKCS#8), for SWAN_AUTH=pubkey. */
export interface TestPki {
  /** Holds ca.crt, swan.crt/.key, client.crt/.key: pass as SWAN_CERT_DIR. */
  dir: string;
  ca: string;
  swanCert: string;
  swanKey: string;
  clientCert: string;
  clientKey: string;
  /** Deletes the directory (private keys included). */
  remove(): void;
}

/**
 * Runs make-certs.sh: RSA 2048 or ECDSA P-256, SAN dNSName = the FQDN IDs (swan.example.org,
 * client.example.org unless `ids` names others: `peer` for swan.crt, `caller` for client.crt).
 */
export function makeTestPki(type: "rsa" | "ecdsa", ids: { peer?: string; caller?: string } = {}): TestPki {
  const t = tempDir(`swan-pki-${type}`);
  const env = {
    ...process.env,
    ...(ids.peer ? { SWAN_LOCAL_ID: ids.peer } : {}),
    ...(ids.caller ? { SWAN_REMOTE_ID: ids.caller } : {}),
  };
  const r = spawnSync("bash", [MAKE_CERTS_SCRIPT, t.dir, type], { encoding: "utf8", timeout: 30_000, env });
  if (r.status !== 0) {
    t.remove();
    throw new Error(`make-certs.sh ${type} failed (${r.status}): ${r.stderr}`);
  }
  const f = (name: string): string => `${t.dir}/${name}`;
  return {
    dir: t.dir,
    ca: f("ca.crt"),
    swanCert: f("swan.crt"),
    swanKey: f("swan.key"),
    clientCert: f("client.crt"),
    clientKey: f("client.key"),
    remove: t.remove,
  };
}
