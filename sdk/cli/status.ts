/**
 * `ipsec-wasm status [--json]`: asks every running `ipsec-wasm up` (over its control socket) for
 * its IKE and Child SAs, printed like `swanctl --list-sas` with the per-SA counters.
 * @module
 */
import net from "node:net";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { CliCommand } from "./main.ts";

/** Control sockets of running `ipsec-wasm up` processes (in the temp directory, one per process). */
export async function listControlSockets(dir = tmpdir()): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /^ipsec-wasm-\d+\.ctl$/.test(f)).map((f) => `${dir}/${f}`);
}

/** Sends one request line to an `up` control socket; resolves with the whole answer. */
export function askControl(path: string, cmd: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path);
    let data = "";
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer within ${timeoutMs / 1000} s`)); }, timeoutMs);
    sock.on("connect", () => sock.write(`${cmd}\n`));
    sock.on("data", (d) => (data += d.toString()));
    sock.on("end", () => { clearTimeout(timer); resolve(data); });
    sock.on("error", (e) => { clearTimeout(timer); reject(e); });
  });
}

export const statusCommand: CliCommand = {
  path: ["status"],
  summary: "list the IKE and Child SAs of running `ipsec-wasm up` processes, with counters",
  usage: "Usage: ipsec-wasm status [--json]\n",
  async run(args, io) {
    const json = args.includes("--json");
    const socks = await listControlSockets();
    if (socks.length === 0) { io.err("no running `ipsec-wasm up` found\n"); return 3; }
    const parts: string[] = [];
    for (const path of socks) {
      try { parts.push(await askControl(path, json ? "status-json" : "status")); } catch { /* a stale socket of a process that died */ }
    }
    if (parts.length === 0) { io.err("no running `ipsec-wasm up` answered\n"); return 3; }
    io.out(json ? `[${parts.map((p) => p.trim().replace(/^\[|\]$/g, "")).filter(Boolean).join(",")}]\n` : parts.join(""));
    return 0;
  },
};
