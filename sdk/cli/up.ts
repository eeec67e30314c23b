/**
 * `ipsec-wasm up --conf FILE [--conn NAME]`: establish (or, with --listen, wait for the peer),
 * hold the SAs, rekey, answer DPD and ICMP echo requests to our inner addresses, print status
 * lines and diagnostics; Ctrl-C sends DELETE and exits. With `--tun NAME` it is a VPN instead:
 * the host's own traffic goes through a TUN device and a packet worker (sdk/io), nothing is
 * answered here, and the TUN and its routes go away on exit. A control socket serves
 * `ipsec-wasm status` and `ipsec-wasm down`; optional debugging aids: a pcap tap, Wireshark key
 * files, and an OpenMetrics endpoint on a loopback address.
 * @module
 */
import net from "node:net";
import http from "node:http";
import { tmpdir } from "node:os";
import { unlink } from "node:fs/promises";
import { echoReplyFor, parseIcmpEcho } from "../packet/icmp.ts";
import { parseIp } from "../net/ip.ts";
import { formatTs } from "../ike/ts.ts";
import { IkeError, EXIT_CODES } from "../ike/errors.ts";
import { ConfigError } from "../ike/config-error.ts";
import { IoError, IO_EXIT_CODES } from "../io/errors.ts";
import { checkTunName } from "../io/tun-linux.ts";
import { parseSessionArgs, startSession, type Session, type SessionOptions } from "./ike-session.ts";
import { formatStatusReport, formatSwanctlSas, statusReportJson } from "../diag/status-report.ts";
import { metricsResponse } from "../diag/metrics.ts";
import { deleteSas, describeDelete, type DownReply, type DownRequest } from "./down.ts";
import { numberArg, UsageError, type ParsedValues } from "./args.ts";
import type { CliCommand, CliIo } from "./command.ts";

/** Where `up` listens for `status` and `down` (one socket per process). */
export function controlPath(pid = process.pid): string {
  return `${tmpdir()}/ipsec-wasm-${pid}.ctl`;
}

/** How long Ctrl-C, SIGTERM and --for wait for the peers to answer the DELETE. */
const SHUTDOWN_TIMEOUT_MS = 5000;

/** What `up` does around a `down` request that names its connection. */
interface DownHooks {
  /** Before the first DELETE goes out (the SAs are about to go: stop reacting to their events). */
  started(): void;
  /** After the reply was sent: exit. */
  finished(): void;
}

/**
 * Serves the control socket: `status`, `status-json`, `tunnel-json` (the TUN packet worker's
 * counters) and `down {json}` (answered with a {@link DownReply} once every DELETE is confirmed
 * or timed out).
 */
async function serveControl(s: Session, path: string, hooks: DownHooks): Promise<net.Server> {
  await unlink(path).catch(() => undefined);
  const server = net.createServer((sock) => {
    sock.once("data", (d) => {
      const line = d.toString().trim();
      if (line.startsWith("down")) {
        void answerDown(s, line.slice(4).trim(), hooks).then((reply) => {
          sock.end(JSON.stringify(reply), () => {
            if (reply.matched) hooks.finished();
          });
        });
        return;
      }
      if (line === "tunnel-json") {
        // The packet worker's counters, fresh (for benchmarks: CPU and packets per stage).
        const t = s.tunnel;
        if (!t) {
          sock.end(JSON.stringify({ tun: null }));
          return;
        }
        void t.freshStats().then((st) =>
          sock.end(
            JSON.stringify({
              tun: t.tun.name,
              routes: t.tun.routes,
              addresses: t.tun.addresses,
              io: st?.io ?? null,
              workers: t.laneCounters,
            }),
          ),
        );
        return;
      }
      const report = s.report();
      sock.end(line === "status-json" ? statusReportJson(report) : formatStatusReport(report));
    });
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  server.unref();
  return server;
}

async function answerDown(s: Session, body: string, hooks: DownHooks): Promise<DownReply> {
  let req: DownRequest = { timeoutMs: SHUTDOWN_TIMEOUT_MS };
  try {
    req = { ...req, ...(JSON.parse(body || "{}") as Partial<DownRequest>) };
  } catch {
    /* defaults */
  }
  const timeoutMs = Math.min(600_000, Math.max(100, Number(req.timeoutMs) || SHUTDOWN_TIMEOUT_MS));
  const base = { pid: process.pid, conn: s.conn.name };
  if (req.conn !== undefined && req.conn !== s.conn.name) return { ...base, matched: false, results: [] };
  hooks.started();
  return { ...base, matched: true, results: await deleteSas(s.daemon, timeoutMs) };
}

/** Options `up` knows besides those of every session (parseSessionArgs). */
const UP_OPTIONS = {
  listen: { type: "boolean" },
  for: { type: "string" },
  metrics: { type: "string" },
  capture: { type: "string" },
  "capture-plain": { type: "string" },
  "wireshark-keys": { type: "string" },
  tun: { type: "string" },
  "mtu-path": { type: "string" },
  io: { type: "string" },
  workers: { type: "string" },
} as const;

type UpValues = ParsedValues<typeof UP_OPTIONS>;

/** `--tun NAME [--mtu-path N] [--io mmsg|dgram]`, or undefined without --tun. */
function tunnelOptions(values: UpValues): SessionOptions["tunnel"] {
  const mode = values.io;
  if (mode !== undefined && mode !== "mmsg" && mode !== "dgram")
    throw new ConfigError("SYNTAX", `--io must be mmsg or dgram, got '${mode}'`);
  if (values.tun === undefined) {
    const lone =
      values["mtu-path"] !== undefined
        ? "--mtu-path"
        : values.workers !== undefined
          ? "--workers"
          : mode === "mmsg"
            ? "--io mmsg"
            : undefined;
    if (lone) throw new ConfigError("SYNTAX", `${lone} needs --tun NAME`);
    return undefined;
  }
  const name = checkTunName(values.tun);
  const mtuText = values["mtu-path"];
  const pathMtu =
    mtuText === undefined ? 1500 : numberArg("--mtu-path", mtuText, { min: 576, max: 65535, integer: true });
  const workersText = values.workers;
  const workers = workersText === undefined ? 1 : Number(workersText);
  if (workers !== 1 && workers !== 2) throw new ConfigError("SYNTAX", `--workers must be 1 or 2, got '${workersText}'`);
  if (workers === 2 && mode === "dgram")
    throw new ConfigError(
      "SYNTAX",
      "--workers 2 needs --io mmsg (ESP is steered to the second worker by a socket option)",
    );
  return { name, io: mode ?? "mmsg", pathMtu, workers };
}

/** Maps a failure to its exit code and one line. */
export function reportFailure(e: unknown, io: CliIo): number {
  if (e instanceof IkeError) {
    io.err(`error: ${e.message}\n`);
    return EXIT_CODES[e.code];
  }
  if (e instanceof ConfigError || e instanceof UsageError) {
    io.err(`error: ${e.message}\n`);
    return 2;
  }
  if (e instanceof IoError) {
    io.err(`error: ${e.message}\n`);
    return IO_EXIT_CODES[e.code];
  }
  io.err(`internal error: ${(e as Error).stack ?? e}\n`);
  return 1;
}

/**
 * What `up` does at the start. Without start_action on any child ("legacy"): initiate, or wait
 * with --listen, as always; a connection without a remote address (remote_addrs = %any, a
 * gateway) waits as with --listen. With start_action: `start` children are initiated, `trap`
 * children trapped (traps also with --listen; start is not).
 */
export function startPlan(s: Session, listen: boolean): { mode: "legacy" | "actions"; listen: boolean; note?: string } {
  const conn = s.conn;
  const actions = conn.children.some((c) => c.startAction !== "none");
  const canInitiate = conn.remoteAddrs.some((a) => a !== "%any" && !a.includes("/"));
  if (!listen && !canInitiate && !conn.children.some((c) => c.startAction === "trap"))
    return {
      mode: "legacy",
      listen: true,
      note: `connection '${conn.name}' has no remote address to initiate to (remote_addrs = ${conn.remoteAddrs.join(", ")}): waiting for peers, as with --listen`,
    };
  return { mode: actions ? "actions" : "legacy", listen };
}

/** Answers ICMP echo requests that arrive through a Child SA (the tunnel's inner host). */
export function answerPings(s: Session): void {
  s.daemon.onInner = (pkt) => {
    const e = parseIcmpEcho(pkt);
    if (!e || e.type !== 8) return;
    const reply = echoReplyFor(pkt);
    if (reply) s.daemon.sendInner([reply], e.src);
  };
}

/**
 * Parses `--metrics ADDR:PORT` (`127.0.0.1:9464`, `[::1]:9464`; port 0: any free one). Only loopback addresses: the
 * endpoint has no authentication and names every SA, peer and counter.
 */
export function parseMetricsAddress(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) throw new ConfigError("SYNTAX", `--metrics needs ADDRESS:PORT (e.g. 127.0.0.1:9464), got '${text}'`);
  const [, host = "", portText] = m; // both groups are mandatory in both patterns
  const port = Number(portText);
  // Port 0 takes any free port (printed at start).
  if (!(port >= 0 && port < 65536)) throw new ConfigError("SYNTAX", `--metrics: port ${portText} is not in 0..65535`);
  const ip = parseIp(host);
  const loopback = ip !== undefined && (ip.length === 4 ? ip[0] === 127 : ip.every((b, i) => b === (i === 15 ? 1 : 0)));
  if (!loopback) {
    throw new ConfigError(
      "SYNTAX",
      `refusing to serve metrics on ${host}: only loopback addresses (127.0.0.0/8, ::1) are allowed, because the endpoint has no authentication; scrape it locally or through a proxy`,
    );
  }
  return { host, port };
}

/** HTTP GET /metrics on a loopback address, serving `render(accept)` (the format follows the Accept header). */
async function serveMetrics(
  addr: { host: string; port: number },
  render: (accept?: string) => { body: string; contentType: string },
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("only /metrics here\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    try {
      const { body, contentType } = render(req.headers.accept);
      res.writeHead(200, { "content-type": contentType }).end(req.method === "HEAD" ? undefined : body);
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" }).end(`${(e as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(addr.port, addr.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.unref();
  return server;
}

export const upCommand: CliCommand = {
  usage:
    [
      "Usage: ipsec-wasm up --conf FILE [--conn NAME] [--listen] [--for SECONDS] [-v|-q] [--tun NAME [--mtu-path N] [--io mmsg|dgram] [--workers 1|2]] [debugging options]",
      "",
      "  --conf FILE    swanctl.conf with connections { } and secrets { }",
      "  --conn NAME    connection to use (default: the first)",
      "  --listen       do not initiate; answer the peer's IKE_SA_INIT (responder)",
      "  --for SECONDS  exit (with DELETE) this long after the start, negotiation included; default: until",
      "                 Ctrl-C or `ipsec-wasm down`. An initiator not established by then exits 15",
      "  --nat-port P   NAT-T port (default 4500)",
      "  --retransmit-timeout S, --retransmit-base F, --retransmit-tries N",
      "                 retransmission schedule (strongSwan's defaults: 4 s, 1.8, 5)",
      "  --silence-after S",
      "                 report a Child SA as up-but-silent when it sends while nothing verifies inbound",
      "                 for S seconds (default 30); `status` lists it with the likely causes",
      "  --metrics ADDR:PORT",
      "                 serve per-SA counters, xfrm_stat and diagnostics on http://ADDR:PORT/metrics:",
      "                 OpenMetrics 1.0 when the scraper's Accept asks for it, else Prometheus text 0.0.4;",
      "                 loopback addresses only (the endpoint has no authentication)",
      "",
      "A VPN for this host (Linux, root or CAP_NET_ADMIN, iproute2; FFI to libc: koffi under Node, an optional",
      "dependency; Deno.dlopen under Deno (--allow-ffi --allow-net --allow-read --allow-write --allow-env",
      "--allow-run); bun:ffi under Bun):",
      "  --tun NAME     carry the host's traffic: create TUN device NAME, give it the virtual IP the peer",
      "                 assigned, else the local traffic selector's address (when it is one host), route the remote",
      "                 selectors through it; a worker thread moves packets between the TUN and UDP",
      "                 4500 in batches. Nothing is answered by ipsec-wasm itself: the kernel's stack",
      "                 does ping, TCP and UDP. The TUN and its routes are removed on exit",
      "  --mtu-path N   outer path MTU (default 1500): the TUN MTU is the largest inner packet that",
      "                 fits it; larger packets get ICMP fragmentation-needed / packet-too-big",
      "  --io MODE      mmsg (default): recvmmsg/sendmmsg through libc; dgram: node:dgram for UDP",
      "  --workers N    packet worker threads, 1 (default) or 2: one reads the TUN and encrypts, the",
      "                 other decrypts the ESP the kernel steers to it by SPI (mmsg only)",
      "  The same can live in the swanctl.conf, in a section strongSwan's swanctl ignores:",
      "  ipsec-wasm { tun = NAME  mtu_path = N  io = mmsg|dgram  workers = 1|2 } (the options win)",
      "",
      "Debugging only (these write secrets or traffic to disk; never use them in production):",
      "  --wireshark-keys DIR",
      "                 keep DIR/esp_sa and DIR/ikev2_decryption_table current with the keys of every",
      "                 Child SA and IKE SA (Wireshark's tables: WIRESHARK_CONFIG_DIR=DIR tshark ...)",
      "  --capture FILE pcap of every IKE and ESP-in-UDP datagram sent and received (real addresses and",
      "                 ports; with a port other than 4500 tell Wireshark: -d udp.port==P,udpencap)",
      "  --capture-plain FILE",
      "                 pcap of the inner packets entering and leaving the Child SAs",
      "",
      "Children's start_action: none (default) keeps the behaviour above; start initiates (retried per",
      "keyingtries, 0 = forever, with pauses of 1 s doubling to 60 s); trap installs a trap: the first",
      "packet to the remote selectors starts the IKE_SA (that packet is dropped). dpd_action = restart",
      "and close_action = start re-initiate, = trap re-installs the trap; `up` keeps running meanwhile.",
      "A connection with remote_addrs = %any (a gateway) waits for peers as with --listen. A virtual IP",
      "assigned by the peer (vips = 0.0.0.0) is the TUN's address and is shown by `status`.",
      "",
      "Without --tun it answers ICMP echo requests addressed to its side of the tunnel. `ipsec-wasm status`",
      "lists the SAs, `ipsec-wasm down` deletes them. Exit codes: 0 ok, 2 configuration or usage (unknown",
      "options, missing values and bad numbers too; one line), 10 NO_PROPOSAL_CHOSEN, 11",
      "AUTHENTICATION_FAILED, 12 TS_UNACCEPTABLE, 15 peer unreachable (also: --for ended before the",
      "IKE_SA was established), 16 peer dead (DPD), 20 no FFI (koffi missing, --allow-ffi missing) or not Linux, 21 TUN device",
      "(permission, name in use, iproute2), 22 UDP socket (port in use), 23 packet worker failed.",
    ].join("\n") + "\n",
  async run(args, io) {
    let s: Session | undefined;
    let server: net.Server | undefined;
    let metrics: http.Server | undefined;
    let forTimer: ReturnType<typeof setTimeout> | undefined;
    const path = controlPath();
    try {
      const startedAt = performance.now();
      const { opts, values } = parseSessionArgs(args, UP_OPTIONS, "up");
      const forText = values.for;
      const forMs =
        forText === undefined
          ? undefined
          : numberArg("--for", forText, { min: 0, max: 31_536_000, exclusiveMin: true }) * 1000;
      let listen = values.listen === true;
      const metricsAddr = values.metrics !== undefined ? parseMetricsAddress(values.metrics) : undefined;
      opts.tunnel = tunnelOptions(values);
      opts.capture = { cipher: values.capture, plain: values["capture-plain"] };
      opts.wiresharkKeys = values["wireshark-keys"];
      let exitCode = 0;
      let shuttingDown = false;
      let finish!: () => void;
      const done = new Promise<void>((r) => (finish = r));
      let failIo: (e: IoError) => void = () => undefined;
      if (opts.tunnel) opts.tunnel.onError = (e) => failIo(e);
      else opts.tunnelFromConf = { onError: (e) => failIo(e) };
      s = await startSession(opts, io);
      const session = s;
      if (session.tunnel) {
        const t = session.tunnel;
        // Last resort (an uncaught exception): the routes go; the device goes with the fd anyway.
        process.once("exit", () => t.closeSync());
        io.out(
          `up: TUN ${t.tun.name} created (UDP ${opts.tunnel!.io === "mmsg" ? "recvmmsg/sendmmsg" : "node:dgram"} on [${t.natPort}], ${t.workers === 1 ? "packet worker started" : `${t.workers} packet workers started`})\n`,
        );
      } else {
        answerPings(s);
      }
      server = await serveControl(s, path, {
        started: () => {
          shuttingDown = true;
          io.out("up: `ipsec-wasm down`: sending DELETE\n");
        },
        finished: () => {
          io.out("up: IKE_SAs gone (ipsec-wasm down), exiting\n");
          finish();
        },
      });
      if (metricsAddr) {
        metrics = await serveMetrics(metricsAddr, (accept) => metricsResponse(session.report(), accept));
        const bound = (metrics.address() as net.AddressInfo).port;
        io.out(
          `up: metrics on http://${metricsAddr.host.includes(":") ? `[${metricsAddr.host}]` : metricsAddr.host}:${bound}/metrics\n`,
        );
      }
      if (opts.wiresharkKeys)
        io.out(
          `up: writing SA keys for Wireshark to ${opts.wiresharkKeys} (debugging only: anyone who reads them can decrypt the traffic)\n`,
        );
      const plan = startPlan(session, listen);
      listen = plan.listen;
      const daemon = session.daemon;
      // A trap, or a dpd/close action restarting, keeps `up` running when the IKE SA goes.
      const idle = (): boolean => !listen && daemon.sas.size === 0 && !daemon.recovering;
      const shownVips = new WeakSet<object>();
      daemon.on((e) => {
        if (shuttingDown) return;
        if (e.type === "child-up")
          io.out(
            `up: CHILD_SA ${e.child.name} ${e.child.proposal} ${e.child.localTs.length} === ${e.child.remoteTs.length} selectors, SPIs in ${e.child.spiIn.toString(16)} out ${e.child.spiOut.toString(16)}\n`,
          );
        if (e.type === "rekeyed" && shownVips.has(e.ike)) shownVips.add(e.successor);
        // Once per IKE SA, whether CP filled it in before the SA or the first child came up.
        if ((e.type === "established" || e.type === "child-up") && e.ike.localVips.length && !shownVips.has(e.ike)) {
          shownVips.add(e.ike);
          io.out(
            `up: virtual IP ${e.ike.localVips.join(", ")} assigned${e.ike.dnsServers.length ? `, DNS ${e.ike.dnsServers.join(", ")}` : ""}\n`,
          );
        }
        if (e.type === "failed" && idle()) {
          exitCode = reportFailure(e.error, io);
          finish();
        }
        if (e.type === "deleted" && e.reason !== "rekeyed" && idle()) {
          io.out(`up: IKE_SA deleted (${e.reason})\n`);
          finish();
        }
      });
      daemon.onGaveUp = (conn, error) => {
        if (shuttingDown || !idle()) return;
        io.out(`up: '${conn}' could not be brought back\n`);
        exitCode = reportFailure(error, io);
        finish();
      };
      const shutdown = (why: string): void => {
        if (shuttingDown) return;
        shuttingDown = true;
        io.out(`up: ${why}, sending DELETE\n`);
        void deleteSas(session.daemon, SHUTDOWN_TIMEOUT_MS).then((rs) => {
          for (const r of rs) io.out(`up: ${describeDelete(r, SHUTDOWN_TIMEOUT_MS)}\n`);
          finish();
        });
      };
      failIo = (e) => {
        if (shuttingDown) return;
        exitCode = IO_EXIT_CODES[e.code];
        io.err(`error: ${e.message}\n`);
        shutdown("I/O failure");
      };
      const onSigint = (): void => shutdown("Ctrl-C");
      const onSigterm = (): void => shutdown("SIGTERM");
      process.once("SIGINT", onSigint);
      process.once("SIGTERM", onSigterm);
      // --for bounds the whole run, the negotiation included: its clock started with the command.
      let established = false;
      if (forMs !== undefined)
        forTimer = setTimeout(
          () => {
            if (!listen && !established && !shuttingDown) {
              exitCode = EXIT_CODES.PEER_UNREACHABLE;
              io.err(
                `error: --for ${forText} s elapsed before the IKE_SA of '${session.conn.name}' was established: the peer did not answer in time\n`,
              );
            }
            shutdown(`--for ${forText} s elapsed`);
          },
          Math.max(0, forMs - (performance.now() - startedAt)),
        );
      if (plan.note) io.out(`up: ${plan.note}\n`);
      if (!listen && plan.mode !== "legacy") {
        // start_action set: traps installed, start children initiated with keying tries.
        const { trapped, started } = daemon.startActions();
        session.tunnel?.resync(); // traps route through the TUN before any SA
        for (const t of trapped)
          io.out(
            `up: trap installed for CHILD_SA ${t.template.name} (${t.remoteTs.map(formatTs).join(" ") || "no selector"}): the first packet to it starts the IKE_SA\n`,
          );
        if (started.length === 0) established = true; // nothing to wait for: --for does not fail
        const initiated = Promise.all(started.map((s) => s.up)).then(() => {
          established = true;
          if (started.length) io.out(formatSwanctlSas(session.report().ikeSas));
        });
        // Keying tries used up: daemon.onGaveUp reports it and ends `up` (unless a trap keeps it).
        initiated.catch(() => undefined);
      } else if (!listen) {
        const initiated = session.daemon.initiate(session.conn.name).then(() => {
          established = true;
          io.out(formatSwanctlSas(session.report().ikeSas));
        });
        // A shutdown while still negotiating is not a failure of the negotiation, and need not wait for it.
        await Promise.race([
          initiated.catch((e: unknown) => {
            if (!shuttingDown) throw e;
          }),
          done,
        ]);
      } else {
        // Traps work for a responder too; start_action = start does not (--listen: do not initiate).
        if (values.listen === true)
          for (const t of daemon.startActions({ start: false }).trapped)
            io.out(`up: trap installed for CHILD_SA ${t.template.name}\n`);
        session.tunnel?.resync();
        io.out(
          `up: listening on ${session.transport.address}[${session.transport.ikePort}] and [${session.transport.natPort}] for connection '${session.conn.name}'\n`,
        );
      }
      await done;
      clearTimeout(forTimer);
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      return exitCode;
    } catch (e) {
      return reportFailure(e, io);
    } finally {
      clearTimeout(forTimer);
      server?.close();
      metrics?.close();
      await unlink(path).catch(() => undefined);
      await s?.close();
    }
  },
};
