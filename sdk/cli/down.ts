/**
 * `ipsec-wasm down --all | CONN [--timeout S]`: the emergency shutdown. Asks every running
 * `ipsec-wasm up` (over its control socket) to send DELETE for each of its IKE SAs and to wait
 * for the answers, at most S seconds; prints one line per SA and exits non-zero if any peer did
 * not confirm. Each `up` exits once its SAs are gone. Both sides of the exchange live here:
 * {@link deleteSas} runs inside `up`, the command runs in the caller.
 * @module
 */
import { IkeError, EXIT_CODES } from "../ike/errors.ts";
import type { IkeSa } from "../ike/ike-sa.ts";
import type { IkeDaemon } from "../ike/daemon.ts";
import { askControl, listControlSockets } from "./status.ts";
import { numberArg, parseCommandArgs, UsageError } from "./args.ts";
import type { CliCommand } from "./command.ts";

/** How one IKE SA's DELETE ended. */
export type DeleteOutcome = "confirmed" | "deleted-by-peer" | "no-answer" | "not-established";

/** One IKE SA's DELETE, as `up` reports it. */
export interface DeleteResult {
  name: string;
  uniqueId: number;
  /** `SPIi_i SPIr_r` in hex. */
  spis: string;
  /** Peer address and port. */
  remote: string;
  outcome: DeleteOutcome;
  /** Seconds from sending the DELETE to the outcome. */
  seconds: number;
}

/** What `up` answers to a `down` request. */
export interface DownReply {
  pid: number;
  /** Connection this `up` holds. */
  conn: string;
  /** False when the request named another connection (nothing was deleted). */
  matched: boolean;
  results: DeleteResult[];
}

/** The request line a `down` client sends. */
export interface DownRequest {
  /** Only this connection; all when absent. */
  conn?: string;
  timeoutMs: number;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/**
 * Sends DELETE for every IKE SA of `daemon` and waits for each answer, at most `timeoutMs`.
 * An SA whose peer does not answer in time is removed locally (keys wiped, Child SAs gone).
 */
export function deleteSas(daemon: IkeDaemon, timeoutMs: number): Promise<DeleteResult[]> {
  return Promise.all([...new Set(daemon.sas.values())].map((ike) => deleteOne(daemon, ike, timeoutMs)));
}

function deleteOne(daemon: IkeDaemon, ike: IkeSa, timeoutMs: number): Promise<DeleteResult> {
  const base = {
    name: ike.conn.name,
    uniqueId: ike.uniqueId,
    spis: `${hex(ike.spiI)}_i ${hex(ike.spiR)}_r`,
    remote: `${ike.remote.address}[${ike.remote.port}]`,
  };
  const t0 = Date.now();
  if (ike.state === "CREATED" || ike.state === "CONNECTING") {
    // Nothing to confirm: no peer state exists yet that a DELETE could remove.
    void ike.delete();
    return Promise.resolve({ ...base, outcome: "not-established", seconds: 0 });
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: DeleteOutcome): void => {
      if (settled) return;
      settled = true;
      off();
      clearTimeout(timer);
      resolve({ ...base, outcome, seconds: (Date.now() - t0) / 1000 });
    };
    const off = daemon.on((e) => {
      if (e.ike !== ike) return;
      // The IKE SA reports "deleted" when the peer answered our DELETE; any other reason means it did not.
      if (e.type === "deleted")
        done(e.reason === "deleted" ? "confirmed" : e.reason === "deleted by peer" ? "deleted-by-peer" : "no-answer");
      else if (e.type === "failed") done("no-answer");
    });
    const timer = setTimeout(() => {
      done("no-answer");
      ike.fail(
        new IkeError(
          "DELETED",
          `no answer to DELETE within ${timeoutMs / 1000} s: IKE_SA ${ike.conn.name}[${ike.uniqueId}] removed locally`,
        ),
      );
    }, timeoutMs);
    void ike.delete();
  });
}

/** One report line for a result. */
export function describeDelete(r: DeleteResult, timeoutMs: number): string {
  const what: Record<DeleteOutcome, string> = {
    confirmed: `deleted, confirmed by peer (${r.seconds.toFixed(2)} s)`,
    "deleted-by-peer": "deleted by the peer at the same time",
    "no-answer": `no answer within ${timeoutMs / 1000} s (removed locally)`,
    "not-established": "was not established yet (removed locally)",
  };
  return `${r.name}[${r.uniqueId}] ${r.spis} ${r.remote}: ${what[r.outcome]}`;
}

/** `--all | CONN [--timeout S]`; throws {@link UsageError}. */
function parseDownArgs(args: string[]): { all: boolean; conn?: string; timeoutMs: number } {
  const { values, positionals } = parseCommandArgs(
    args,
    { all: { type: "boolean" }, timeout: { type: "string" } },
    { command: "down", maxPositionals: 1 },
  );
  const timeout =
    values.timeout === undefined ? 5 : numberArg("--timeout", values.timeout, { min: 0, max: 600, exclusiveMin: true });
  const all = values.all === true,
    conn = positionals[0];
  if (all === (conn !== undefined))
    throw new UsageError("name one connection or give --all (see `ipsec-wasm down --help`)");
  return { all, conn, timeoutMs: timeout * 1000 };
}

export const downCommand: CliCommand = {
  usage:
    [
      "Usage: ipsec-wasm down (--all | CONN) [--timeout SECONDS]",
      "",
      "  --all          every connection of every running `ipsec-wasm up`",
      "  CONN           only the `up` processes holding this connection",
      "  --timeout S    how long to wait for each peer's answer (default 5)",
      "",
      'Prints one line per IKE SA: "deleted, confirmed by peer" or "no answer within S s".',
      "Each `up` exits after its SAs are gone (an SA whose peer did not answer is removed locally).",
      "Exit codes: 0 every DELETE confirmed, 2 bad arguments (one line), 3 no `up` running (or none holds CONN),",
      "15 some peer did not answer.",
    ].join("\n") + "\n",
  async run(args, io) {
    let p: ReturnType<typeof parseDownArgs>;
    try {
      p = parseDownArgs(args);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      io.err(`error: ${e.message}\n`);
      return 2;
    }
    const socks = await listControlSockets();
    if (socks.length === 0) {
      io.err("no running `ipsec-wasm up` found\n");
      return 3;
    }
    const request: DownRequest = { conn: p.conn, timeoutMs: p.timeoutMs };
    // Every `up` deletes its SAs at the same time: the shutdown takes one timeout, not one per process.
    const replies = await Promise.all(
      socks.map(async (path) => {
        try {
          return JSON.parse(await askControl(path, `down ${JSON.stringify(request)}`, p.timeoutMs + 5000)) as DownReply;
        } catch {
          return undefined; // a stale socket of a process that died
        }
      }),
    );
    const matched = replies.filter((r): r is DownReply => r !== undefined && r.matched);
    if (matched.length === 0) {
      io.err(
        p.conn
          ? `no running \`ipsec-wasm up\` holds connection '${p.conn}'\n`
          : "no running `ipsec-wasm up` answered\n",
      );
      return 3;
    }
    let failed = 0,
      total = 0;
    for (const r of matched) {
      if (r.results.length === 0) io.out(`${r.conn} (pid ${r.pid}): no IKE_SAs\n`);
      for (const res of r.results) {
        total++;
        if (res.outcome === "no-answer") failed++;
        io.out(`${describeDelete(res, p.timeoutMs)}\n`);
      }
    }
    if (failed) io.err(`${failed} of ${total} IKE_SAs not confirmed by their peer\n`);
    return failed ? EXIT_CODES.PEER_UNREACHABLE : 0;
  },
};
