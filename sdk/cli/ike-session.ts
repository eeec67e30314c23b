/**
 * What `up` and `ping` share: read a swanctl.conf, start a dataplane, the IKE daemon and its UDP
 * sockets, attach the diagnostics (ICV-truncation and up-but-silent detectors, logged as they
 * are raised and cleared, listed by `status`), optionally the debugging aids
 * (capture tap, Wireshark key files), print log lines, and format `status` like `swanctl --list-sas`.
 * @module
 */
import { readFile, readdir } from "node:fs/promises";
import { lookup } from "node:dns/promises";
import dgram from "node:dgram";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve as resolvePath } from "node:path";
import { Dataplane } from "../dataplane/dataplane.ts";
import { ControlCrypto } from "../dataplane/control-crypto.ts";
import { parseSwanctlConf } from "../config/swanctl.ts";
import { checkTunName } from "../io/tun-linux.ts";
import { ConfigError } from "../ike/config-error.ts";
import { resolveConfig } from "../config/resolve.ts";
import { IkeDaemon, type ChildKeyRecord, type IkeSaStatus, type IkeTransport } from "../ike/daemon.ts";
import type { IkeSa } from "../ike/ike-sa.ts";
import { IkeUdpTransport } from "../node/ike-udp.ts";
import { CaptureTap, tapDataplane, tapTransport, type CaptureFiles } from "../node/capture.ts";
import { WiresharkKeyTables, WiresharkExportError, wiresharkEspAlgorithms } from "../diag/wireshark.ts";
import { IcvTruncationDetector } from "../diag/icv-truncation.ts";
import { SilenceDetector, daemonSilencePairs } from "../diag/silence.ts";
import { buildStatusReport, type StatusReport } from "../diag/status-report.ts";
import { XfrmStatCollector } from "../diag/xfrm-stat.ts";
import { formatLog, type LogRecord } from "../ike/log.ts";
import type { IkeConnection } from "../ike/config.ts";
import type { CliIo } from "./command.ts";
import type { TunnelTransport } from "../io/tunnel.ts";
import type { UdpIoMode } from "../io/messages.ts";
import { numberArg, parseCommandArgs, type OptionSpec, type ParsedValues } from "./args.ts";
import type { IoError } from "../io/errors.ts";

/** Options common to `up` and `ping`. */
export interface SessionOptions {
  conf: string;
  conn?: string;
  /** Log level printed (0 quiet, 1 default, 2 verbose). */
  level: 0 | 1 | 2;
  natPort?: number;
  /** strongswan.conf's charon.retransmit_timeout / _base / _tries (seconds, factor, count). */
  retransmit?: { timeoutMs?: number; base?: number; tries?: number };
  /** pcap files of the ciphertext and plaintext sides (debugging). */
  capture?: CaptureFiles;
  /** Directory to keep Wireshark's `esp_sa` and `ikev2_decryption_table` in (debugging: holds keys). */
  wiresharkKeys?: string;
  /** Inbound silence (while outbound rises) that raises an up-but-silent diagnostic, ms (default 30 000). */
  silenceAfterMs?: number;
  /**
   * Carry the host's traffic through a TUN device (`up --tun`): a packet worker owns the TUN and
   * the NAT-T socket (sdk/io/tunnel.ts). `onError` hears failures after start.
   */
  tunnel?: { name: string; io: UdpIoMode; pathMtu?: number; workers?: 1 | 2; onError?(e: IoError): void };
  /**
   * Without `tunnel`: take it from the file's `ipsec-wasm { tun = … }` section when there is one
   * (`up` says yes; `ping` builds its own packets and says no). `onError` as in `tunnel`.
   */
  tunnelFromConf?: { onError?(e: IoError): void };
}

/** The sockets a session's daemon speaks through (node:dgram, or the TUN packet worker). */
export interface SessionTransport extends IkeTransport {
  readonly address: string;
  readonly ikePort: number;
  readonly natPort: number;
  close(): Promise<void>;
}

/** A running daemon with its sockets. */
export interface Session {
  daemon: IkeDaemon;
  /** The Dataplane the daemon, status and diagnostics read (with --tun: mirrored from the packet worker). */
  dataplane: Dataplane;
  transport: SessionTransport;
  /** The TUN packet worker, with --tun. */
  tunnel?: TunnelTransport;
  conn: IkeConnection;
  /** Explains integrity failures on HMAC SAs (logged as they are raised). */
  icvDetector: IcvTruncationDetector;
  /** Notices Child SAs whose outbound counter rises while nothing verifies inbound. */
  silenceDetector: SilenceDetector;
  /** The capture tap, when capture files were asked for. */
  capture?: CaptureTap;
  /** Active diagnostics of every detector. */
  diagnostics(): StatusReport["diagnostics"];
  /** Everything `ipsec-wasm status` shows (IKE and Child SAs, every dataplane SA, xfrm_stat, diagnostics). */
  report(): StatusReport;
  close(): Promise<void>;
}

/** The options `up` and `ping` share (parsed by {@link parseSessionArgs}). */
export const SESSION_OPTIONS = {
  conf: { type: "string" },
  conn: { type: "string" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  "nat-port": { type: "string" },
  "retransmit-timeout": { type: "string" },
  "retransmit-base": { type: "string" },
  "retransmit-tries": { type: "string" },
  "silence-after": { type: "string" },
} as const satisfies Record<string, OptionSpec>;

/**
 * Parses the session options and the command's own (`extra`) strictly: an unknown option, a
 * missing value or a bad number is a {@link UsageError}; no `--conf` is a {@link ConfigError}.
 */
export function parseSessionArgs<E extends Record<string, OptionSpec>>(
  args: string[],
  extra: E,
  command: string,
  maxPositionals = 0,
): { opts: SessionOptions; values: ParsedValues<typeof SESSION_OPTIONS & E>; positionals: string[] } {
  const { values, positionals } = parseCommandArgs(args, { ...SESSION_OPTIONS, ...extra }, { command, maxPositionals });
  const v = values as ParsedValues<typeof SESSION_OPTIONS>;
  const opts: SessionOptions = { conf: v.conf ?? "", conn: v.conn, level: v.verbose ? 2 : v.quiet ? 0 : 1 };
  if (v["nat-port"] !== undefined)
    opts.natPort = numberArg("--nat-port", v["nat-port"], { min: 1, max: 65535, integer: true });
  const timeout = v["retransmit-timeout"],
    base = v["retransmit-base"],
    tries = v["retransmit-tries"];
  if (timeout !== undefined || base !== undefined || tries !== undefined) {
    opts.retransmit = {
      ...(timeout !== undefined
        ? { timeoutMs: numberArg("--retransmit-timeout", timeout, { min: 0, max: 3600, exclusiveMin: true }) * 1000 }
        : {}),
      ...(base !== undefined ? { base: numberArg("--retransmit-base", base, { min: 1, max: 100 }) } : {}),
      ...(tries !== undefined
        ? { tries: numberArg("--retransmit-tries", tries, { min: 0, max: 100, integer: true }) }
        : {}),
    };
  }
  if (v["silence-after"] !== undefined)
    opts.silenceAfterMs =
      numberArg("--silence-after", v["silence-after"], { min: 0, max: 86400, exclusiveMin: true }) * 1000;
  if (!opts.conf) throw new ConfigError("MISSING", "--conf FILE (a swanctl.conf) is required");
  return { opts, values: values, positionals };
}

/** Reads the configuration and starts everything; does not initiate. */
export async function startSession(opts: SessionOptions, io: CliIo): Promise<Session> {
  const path = resolvePath(opts.conf);
  let textConf: string;
  try {
    textConf = await readFile(path, "utf8");
  } catch (e) {
    throw new ConfigError("MISSING", `cannot read ${opts.conf}: ${(e as Error).message}`);
  }
  const cfg = parseSwanctlConf(textConf, opts.conf);
  if (!opts.tunnel && opts.tunnelFromConf && cfg.ipsecWasm?.tun !== undefined) {
    const t = cfg.ipsecWasm;
    opts.tunnel = {
      name: tunNameFromConf(t.tun ?? "", opts.conf),
      io: t.io ?? "mmsg",
      pathMtu: t.mtuPath ?? 1500,
      workers: t.workers ?? 1,
      onError: opts.tunnelFromConf.onError,
    };
    if (opts.tunnel.workers === 2 && opts.tunnel.io === "dgram")
      throw new ConfigError("BAD_VALUE", `${opts.conf}: ipsec-wasm { workers = 2 } needs io = mmsg`);
  }
  const resolved = await resolveConfig(cfg, {
    dir: dirname(path),
    readFile: async (p) => new Uint8Array(await readFile(p)),
    listDir: (d) => readdir(d),
  });
  const conns = resolved.connections;
  if (conns.length === 0) throw new ConfigError("MISSING", `${opts.conf} defines no connections`);
  const conn = opts.conn ? conns.find((c) => c.name === opts.conn) : conns[0];
  if (conn && opts.retransmit) conn.retransmit = { ...conn.retransmit, ...opts.retransmit };
  if (!conn)
    throw new ConfigError(
      "UNKNOWN_KEYWORD",
      `no connection '${opts.conn}' in ${opts.conf}; known: ${conns.map((c) => c.name).join(", ")}`,
    );
  const localAddr = conn.localAddrs.find((a) => a !== "%any" && !a.includes("/")) ?? "0.0.0.0";
  const dataplane = await Dataplane.create({ maxSas: 256, batchSize: 256 });
  const cc = await ControlCrypto.create();
  const log = (r: LogRecord): void => {
    if (r.level <= opts.level) io.out(`${formatLog(r)}\n`);
  };
  const icvDetector = new IcvTruncationDetector(dataplane, {
    log: (line) => log({ subsystem: "ESP", level: 0, message: line, time: Date.now() }),
  });
  const capture =
    opts.capture && (opts.capture.cipher || opts.capture.plain) ? new CaptureTap(opts.capture) : undefined;
  const tapped = capture ? tapDataplane(dataplane, capture) : undefined;
  const keys = opts.wiresharkKeys ? wiresharkKeyFiles(opts.wiresharkKeys, log) : undefined;
  let daemon: IkeDaemon | undefined;
  const ports = {
    address: localAddr,
    ikePort: conn.localPort,
    natPort: opts.natPort ?? (conn.localPort === 500 ? 4500 : conn.localPort),
  };
  let transport: SessionTransport;
  let tunnel: TunnelTransport | undefined;
  if (opts.tunnel) {
    if (capture)
      throw new ConfigError(
        "SYNTAX",
        "--capture and --capture-plain do not work with --tun yet: capture the TUN and the outer interface with tcpdump",
      );
    // Imported only here: koffi and worker_threads stay out of every other command.
    const { TunnelTransport } = await import("../io/tunnel.ts");
    tunnel = await TunnelTransport.start(
      dataplane,
      {
        tun: opts.tunnel.name,
        io: opts.tunnel.io,
        pathMtu: opts.tunnel.pathMtu,
        workers: opts.tunnel.workers,
        ...ports,
        // The TUN coming up and its routes are what a VPN user watches for: shown even with -q.
        log: (line) => log({ subsystem: "NET", level: 0, message: line, time: Date.now() }),
        // The packets (and so the ICV-truncation detector) are in the worker: its lines, as the local detector's.
        diagLog: (line) => log({ subsystem: "ESP", level: 0, message: line, time: Date.now() }),
        onError: opts.tunnel.onError,
      },
      (bytes, local, remote) => daemon?.receiveIke(bytes, local, remote),
    );
    transport = tunnel;
  } else {
    const udp = await IkeUdpTransport.bind(tapped?.dataplane ?? dataplane, ports, {
      onIke: (bytes, local, remote) => {
        capture?.ike(bytes, remote, local, local.port);
        daemon?.receiveIke(bytes, local, remote);
      },
      onEsp: (results, from) => {
        if (capture && tapped) {
          const raw = tapped.arrived();
          raw.forEach((d, i) => {
            const f = from[i];
            if (f) capture.datagram(d, f, { address: localAddr, port: udp.natPort });
          });
        }
        daemon?.receiveEsp(results);
      },
    });
    transport = udp;
  }
  // With --tun the worker's Dataplane sees the packets: everything reads it through the mirror.
  const view = tunnel ? tunnel.dataplane : dataplane;
  daemon = new IkeDaemon({
    dataplane: tunnel ? tunnel.dataplane : (tapped?.dataplane ?? dataplane),
    crypto: cc,
    connections: [conn],
    log,
    logLevel: opts.level,
    transport: capture ? tapTransport(transport, capture, localAddr) : transport,
    localAddress: localAddr === "0.0.0.0" ? undefined : localAddr,
    keyLog: keys?.child,
    pools: resolved.pools,
    eapSecrets: resolved.eapSecrets,
    // remote_addrs = vpn.example.com: resolved at every initiation, as charon does.
    resolveHost: async (name) => (await lookup(name)).address,
    sourceFor: routedSource,
  });
  tunnel?.attach(daemon);
  if (keys) {
    daemon.on((e) => {
      if (e.type === "established") keys.ike(e.ike);
      if (e.type === "rekeyed") keys.ike(e.successor);
    });
  }
  const quietMs = opts.silenceAfterMs ?? 30_000;
  const silenceDetector = new SilenceDetector({ dataplane: view, pairs: daemonSilencePairs(daemon), quietMs });
  silenceDetector.on((e) => {
    const d = e.diagnostic;
    const line =
      e.type === "cleared"
        ? `${d.kind} cleared: inbound traffic verifies again on ${d.evidence.spiIn}`
        : `${d.kind}: ${d.message}${d.hint ? ` Fix: ${d.hint}.` : ""}`;
    log({ subsystem: "ESP", level: 0, message: line, time: Date.now() });
  });
  // A few checks per quiet period, so a silence is reported soon after it is long enough.
  const silenceTimer = setInterval(() => silenceDetector.check(), Math.max(200, Math.min(5000, quietMs / 4)));
  silenceTimer.unref();
  // One collector for the process, so the global counters never go backwards when SAs are removed.
  const collector = new XfrmStatCollector(view);
  const diagnostics = (): StatusReport["diagnostics"] => [
    ...icvDetector.diagnostics(),
    ...(tunnel?.diagnostics() ?? []),
    ...silenceDetector.diagnostics(),
  ];
  return {
    daemon,
    dataplane: view,
    transport,
    tunnel,
    conn,
    icvDetector,
    silenceDetector,
    capture,
    diagnostics,
    report: () => buildStatusReport({ dataplane: view, daemon, diagnostics: diagnostics(), collector }),
    async close() {
      clearInterval(silenceTimer);
      daemon.close();
      icvDetector.detach();
      await transport.close();
      capture?.close();
    },
  };
}

/**
 * Keeps `dir/esp_sa` and `dir/ikev2_decryption_table` current: every installed Child SA and every
 * IKE SA (also rekeyed ones) is added as it comes up; lines already in the files stay, so a
 * capture spanning rekeys and restarts stays readable. Files are replaced atomically, mode 0600.
 */
function wiresharkKeyFiles(
  dir: string,
  log: (r: LogRecord) => void,
): { child(rec: ChildKeyRecord): void; ike(sa: IkeSa): void } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const espPath = join(dir, "esp_sa"),
    ikePath = join(dir, "ikev2_decryption_table");
  const read = (p: string): string => {
    try {
      return readFileSync(p, "utf8");
    } catch {
      return "";
    }
  };
  const tables = new WiresharkKeyTables({ espSa: read(espPath), ikev2: read(ikePath) });
  const save = (p: string, text: string): void => {
    writeFileSync(`${p}.tmp`, text, { mode: 0o600 });
    renameSync(`${p}.tmp`, p);
  };
  const warn = (what: string, e: unknown): void => {
    if (!(e instanceof WiresharkExportError)) throw e;
    log({
      subsystem: "CFG",
      level: 0,
      message: `wireshark keys: ${what} not exported: ${e.message}`,
      time: Date.now(),
    });
  };
  const cautioned = new Set<string>();
  return {
    child(rec) {
      try {
        tables.addChild(rec);
      } catch (e) {
        warn(`CHILD_SA ${rec.child.name} SPI ${rec.spi.toString(16)}`, e);
        return;
      } finally {
        // The table holds its own hex copy: the key copies the daemon made for us need not linger.
        rec.encKey.fill(0);
        rec.integKey.fill(0);
      }
      save(espPath, tables.espSaText());
      const caveat = wiresharkEspAlgorithms(rec.suite).caveat;
      if (caveat && !cautioned.has(caveat)) {
        cautioned.add(caveat);
        log({ subsystem: "CFG", level: 0, message: `wireshark keys: ${caveat}`, time: Date.now() });
      }
    },
    ike(sa) {
      const k = sa.keys;
      if (!k) return;
      try {
        tables.addIke({ ...k, spiI: sa.spiI, spiR: sa.spiR });
      } catch (e) {
        warn(`IKE_SA ${sa.conn.name}[${sa.uniqueId}]`, e);
        return;
      }
      save(ikePath, tables.ikev2Text());
    },
  };
}

const pad = (n: bigint | number, w: number): string => String(n).padStart(w);

/** `swanctl --list-sas` style text. */
export function formatStatus(sas: IkeSaStatus[]): string {
  if (sas.length === 0) return "no IKE_SAs\n";
  const lines: string[] = [];
  for (const s of sas) {
    lines.push(
      `${s.name}: #${s.uniqueId}, ${s.state}, IKEv2, ${s.spiI}_i${s.initiator ? "*" : ""} ${s.spiR}_r${s.initiator ? "" : "*"}`,
    );
    const vips = (v: string[]): string => (v.length ? ` [${v.join(" ")}]` : "");
    lines.push(`  local  '${s.localId}' @ ${s.local}${vips(s.localVips)}`);
    lines.push(`  remote '${s.remoteId}' @ ${s.remote}${vips(s.remoteVips)}`);
    if (s.dns.length) lines.push(`  dns ${s.dns.join(" ")}`);
    if (s.proposal) lines.push(`  ${s.proposal.replace(/^IKE:/, "")}`);
    lines.push(`  established ${s.establishedSecondsAgo}s ago`);
    for (const c of s.children) {
      lines.push(`  ${c.name}: #${c.uniqueId}, ${c.state}, ${c.mode.toUpperCase()}-in-UDP, ${c.proposal}`);
      lines.push(`    installed ${c.installedSecondsAgo}s ago`);
      const drops = (st: typeof c.in): string => {
        if (!st) return "";
        const d = Object.entries(st.drops)
          .filter(([, v]) => v > 0n)
          .map(([k, v]) => `${k} ${v}`);
        return d.length ? `, dropped: ${d.join(", ")}` : "";
      };
      lines.push(
        `    in  ${c.spiIn}, ${pad(c.in?.bytes ?? 0n, 9)} bytes, ${pad(c.in?.packets ?? 0n, 6)} packets${drops(c.in)}`,
      );
      lines.push(
        `    out ${c.spiOut}, ${pad(c.out?.bytes ?? 0n, 9)} bytes, ${pad(c.out?.packets ?? 0n, 6)} packets${c.out ? "" : " (outbound not active yet)"}`,
      );
      lines.push(`    local  ${c.localTs}`);
      lines.push(`    remote ${c.remoteTs}`);
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * The source address the kernel's routing picks for `remote`: a UDP socket connected to it (no
 * packet is sent) reports its local address. What charon asks the kernel for the same reason.
 */
export function routedSource(remote: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(remote.includes(":") ? "udp6" : "udp4");
    const done = (a?: string): void => {
      sock.close();
      resolve(a);
    };
    sock.once("error", () => done());
    sock.connect(500, remote, () => done(sock.address().address));
  });
}

/** The TUN name of an `ipsec-wasm { tun = … }` section, with the file named when it is unusable. */
function tunNameFromConf(name: string, conf: string): string {
  try {
    return checkTunName(name);
  } catch (e) {
    throw new ConfigError(
      "BAD_VALUE",
      `${conf}: ipsec-wasm { tun = '${name}' }: ${(e as Error).message.replace(/^--tun '[^']*' /, "")}`,
    );
  }
}
