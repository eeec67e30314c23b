/**
 * `ipsec-wasm status [--json]`: asks every running `ipsec-wasm up` (over its control socket) for
 * its status report (sdk/diag/status-report.ts): IKE and Child SAs like `swanctl --list-sas`,
 * every dataplane SA like `ip -s xfrm state`, the xfrm_stat counters and the active diagnostics.
 * @module
 */
import net from "node:net";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { CliCommand } from "./command.ts";

/** Control sockets of running `ipsec-wasm up` processes (in the temp directory, one per process). */
export async function listControlSockets(dir = tmpdir()): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /^ipsec-wasm-\d+\.ctl$/.test(f)).map((f) => `${dir}/${f}`);
}

/** Sends one request line to an `up` control socket; resolves with the whole answer. */
export function askControl(path: string, cmd: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path);
    let data = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    sock.on("connect", () => sock.write(`${cmd}\n`));
    sock.on("data", (d) => (data += d.toString()));
    sock.on("end", () => {
      clearTimeout(timer);
      resolve(data);
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export const statusCommand: CliCommand = {
  usage: [
    "Usage: ipsec-wasm status [--json]",
    "",
    "For every running `ipsec-wasm up`: its IKE and Child SAs as `swanctl --list-sas` shows them",
    "(algorithms with ICV lengths, SPIs, rekey and expiry times, counters), every dataplane SA as",
    "`ip -s xfrm state` shows it (replay window, drops by reason), the /proc/net/xfrm_stat counters",
    "and the active diagnostics (e.g. an ICV-truncation mismatch and the line that fixes it).",
    "  --json   the same as JSON: one report per process, 64-bit counters as decimal strings; always",
    "           a JSON array on stdout, `[]` when no `up` runs",
    "",
    "Exit codes: 0 reports printed, 2 bad arguments (one line), 3 no `ipsec-wasm up` running or answering.",
    "",
  ].join("\n"),
  async run(args, io) {
    let json: boolean;
    try {
      json = parseCommandArgs(args, { json: { type: "boolean" } }, { command: "status" }).values.json === true;
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      io.err(`ipsec-wasm status: ${e.message}\n`);
      return 2;
    }
    // With --json, stdout is JSON whatever happens: a script parses it before it looks at the code.
    const none = (why: string): number => {
      if (json) io.out("[]\n");
      io.err(`${why}\n`);
      return 3;
    };
    const socks = await listControlSockets();
    if (socks.length === 0) return none("no running `ipsec-wasm up` found");
    const parts: string[] = [];
    for (const path of socks) {
      try {
        parts.push(await askControl(path, json ? "status-json" : "status"));
      } catch {
        /* a stale socket of a process that died */
      }
    }
    const answers = json ? parts.map((p) => p.trim()).filter(Boolean) : parts;
    if (answers.length === 0) return none("no running `ipsec-wasm up` answered");
    // JSON: one report per running `up`; text: the reports one after the other.
    io.out(json ? `[${answers.join(",\n")}]\n` : answers.join("\n"));
    return 0;
  },
};
