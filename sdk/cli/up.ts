/**
 * `ipsec-wasm up --conf FILE [--conn NAME]`: establish (or, with --listen, wait for the peer),
 * hold the SAs, rekey, answer DPD and ICMP echo requests to our inner addresses, print status
 * lines; Ctrl-C sends DELETE and exits. A control socket serves `ipsec-wasm status`.
 * @module
 */
import net from "node:net";
import { tmpdir } from "node:os";
import { unlink } from "node:fs/promises";
import { echoReplyFor, parseIcmpEcho } from "../packet/icmp.ts";
import { IkeError, EXIT_CODES } from "../ike/errors.ts";
import { ConfigError } from "../config/errors.ts";
import { parseSessionArgs, startSession, formatStatus, statusJson, type Session } from "./ike-session.ts";
import type { CliCommand, CliIo } from "./main.ts";

/** Where `up` listens for `status` (one socket per process). */
export function controlPath(pid = process.pid): string {
  return `${tmpdir()}/ipsec-wasm-${pid}.ctl`;
}

/** Serves status requests on a unix socket. */
async function serveControl(s: Session, path: string): Promise<net.Server> {
  await unlink(path).catch(() => undefined);
  const server = net.createServer((sock) => {
    sock.once("data", (d) => {
      const cmd = d.toString().trim();
      const st = s.daemon.status();
      sock.end(cmd === "status-json" ? statusJson(st) : formatStatus(st));
    });
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  server.unref();
  return server;
}

/** Maps a failure to its exit code and one line. */
export function reportFailure(e: unknown, io: CliIo): number {
  if (e instanceof IkeError) { io.err(`error: ${e.message}\n`); return EXIT_CODES[e.code]; }
  if (e instanceof ConfigError) { io.err(`error: ${e.message}\n`); return 2; }
  io.err(`internal error: ${(e as Error).stack ?? e}\n`);
  return 1;
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

export const upCommand: CliCommand = {
  path: ["up"],
  summary: "establish an IKEv2 connection from a swanctl.conf and hold it (Ctrl-C sends DELETE)",
  usage: [
    "Usage: ipsec-wasm up --conf FILE [--conn NAME] [--listen] [--for SECONDS] [-v|-q]",
    "",
    "  --conf FILE    swanctl.conf with connections { } and secrets { }",
    "  --conn NAME    connection to use (default: the first)",
    "  --listen       do not initiate; answer the peer's IKE_SA_INIT (responder)",
    "  --for SECONDS  exit (with DELETE) after this long; default: until Ctrl-C",
    "  --nat-port P   NAT-T port (default 4500)",
    "  --retransmit-timeout S, --retransmit-base F, --retransmit-tries N",
    "                 retransmission schedule (strongSwan's defaults: 4 s, 1.8, 5)",
    "",
    "Answers ICMP echo requests addressed to its side of the tunnel. `ipsec-wasm status` lists the SAs.",
    "Exit codes: 0 ok, 2 configuration, 10 NO_PROPOSAL_CHOSEN, 11 AUTHENTICATION_FAILED,",
    "12 TS_UNACCEPTABLE, 15 peer unreachable, 16 peer dead (DPD).",
  ].join("\n") + "\n",
  async run(args, io) {
    let s: Session | undefined;
    let server: net.Server | undefined;
    const path = controlPath();
    try {
      const { opts, flags } = parseSessionArgs(args);
      s = await startSession(opts, io);
      answerPings(s);
      server = await serveControl(s, path);
      const session = s;
      let exitCode = 0;
      let finish!: () => void;
      const done = new Promise<void>((r) => (finish = r));
      session.daemon.on((e) => {
        if (e.type === "child-up") io.out(`up: CHILD_SA ${e.child.name} ${e.child.proposal} ${e.child.localTs.length} === ${e.child.remoteTs.length} selectors, SPIs in ${e.child.spiIn.toString(16)} out ${e.child.spiOut.toString(16)}\n`);
        if (e.type === "failed" && !flags.has("--listen")) { exitCode = reportFailure(e.error, io); finish(); }
        if (e.type === "deleted" && e.reason !== "rekeyed" && !flags.has("--listen") && session.daemon.sas.size === 0) { io.out(`up: IKE_SA deleted (${e.reason})\n`); finish(); }
      });
      const onSignal = (): void => { io.out("up: Ctrl-C, sending DELETE\n"); void session.daemon.terminateAll().then(finish); };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      if (!flags.has("--listen")) {
        await session.daemon.initiate(session.conn.name);
        io.out(formatStatus(session.daemon.status()));
      } else {
        io.out(`up: listening on ${session.transport.address}[${session.transport.ikePort}] and [${session.transport.natPort}] for connection '${session.conn.name}'\n`);
      }
      const forSec = flags.get("--for");
      if (forSec) setTimeout(() => { void session.daemon.terminateAll().then(finish); }, Number(forSec) * 1000);
      await done;
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      return exitCode;
    } catch (e) {
      return reportFailure(e, io);
    } finally {
      server?.close();
      await unlink(path).catch(() => undefined);
      await s?.close();
    }
  },
};
