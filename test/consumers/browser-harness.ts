// Headless Chromium for the browser consumer test: Debian's /usr/bin/chromium started in its own
// process group with a fresh profile, driven over the DevTools protocol on a pipe (fds 3 and 4,
// --remote-debugging-pipe: no port, no WebSocket client), and a static file server on 127.0.0.1
// for the page. Both always end what they started: close() kills the whole process group.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";

export const CHROMIUM = "/usr/bin/chromium";

/** The flags every run uses: headless, no sandbox (root in CI), nothing that talks to the network. */
export function chromiumFlags(profileDir: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    // No name lookups at all (Chromium would still ask for accounts.google.com and
    // clients2.google.com): the page is on 127.0.0.1, every other name resolves to nothing.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-breakpad",
    "--no-pings",
    `--user-data-dir=${profileDir}`,
  ];
}

/** A DevTools protocol event as Chromium sent it. */
export interface CdpEvent {
  method: string;
  params: Record<string, unknown>;
  sessionId?: string;
}

/** A running headless Chromium, driven over the DevTools pipe. */
export interface Chromium {
  pid: number;
  /** Sends one DevTools command (browser-level, or to a page session); rejects on a protocol error or after `timeoutMs`. */
  send<T = Record<string, unknown>>(
    method: string,
    params?: Record<string, unknown>,
    sessionId?: string,
    timeoutMs?: number,
  ): Promise<T>;
  /** Every event received so far (console messages, exceptions, network responses, …). */
  events: CdpEvent[];
  /** What Chromium printed on stderr so far. */
  stderr(): string;
  /** Kills Chromium's process group, waits for it to exit, and removes the profile. */
  close(): Promise<void>;
}

/**
 * Starts Chromium. Fails with how to install it when /usr/bin/chromium is missing (a missing tool
 * is a failure, never a skip).
 */
export async function launchChromium(opts: { timeoutMs: number }): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's Chromium with \`apt-get update && apt-get install -y chromium\``,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), "ipsec-wasm-chromium-"));
  const child: ChildProcess = spawn(CHROMIUM, [...chromiumFlags(profile), "--remote-debugging-pipe", "about:blank"], {
    detached: true, // own process group: the renderer, GPU and utility processes die with it
    stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    if (stderr.length < 200_000) stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let gone = false;
  const pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  const failAll = (why: string): void => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`${why}\n--- chromium stderr\n${stderr}`));
      pending.delete(id);
    }
  };
  child.once("exit", (code, signal) => {
    gone = true;
    failAll(`chromium exited (${code ?? signal})`);
  });
  child.once("error", (e) => {
    gone = true;
    failAll(`chromium could not start: ${e.message}`);
  });

  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  toBrowser.on("error", () => {}); // EPIPE once Chromium is gone: the pending commands fail above
  const events: CdpEvent[] = [];
  let buffered = "";
  fromBrowser.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf("\0")) >= 0) {
      const msg = JSON.parse(buffered.slice(0, end)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
        method?: string;
        params?: Record<string, unknown>;
        sessionId?: string;
      };
      buffered = buffered.slice(end + 1);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        if (p === undefined) continue;
        pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.error) p.reject(new Error(`DevTools: ${msg.error.message}`));
        else p.resolve(msg.result);
      } else if (msg.method !== undefined) {
        events.push({ method: msg.method, params: msg.params ?? {}, sessionId: msg.sessionId });
      }
    }
  });

  let nextId = 1;
  const send = <T>(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
    timeoutMs = opts.timeoutMs,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (gone) return reject(new Error(`chromium is not running (${method})\n--- chromium stderr\n${stderr}`));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`DevTools ${method} got no answer in ${timeoutMs} ms\n--- chromium stderr\n${stderr}`));
      }, timeoutMs);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
    });

  const onExit = (): void => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  const close = async (): Promise<void> => {
    process.off("exit", onExit);
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL"); // the group, even if the first process has exited
      } catch {
        // already gone
      }
      if (!gone) await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    failAll("chromium closed");
    rmSync(profile, { recursive: true, force: true });
  };
  process.once("exit", onExit); // the test process dying still takes Chromium along

  const browser: Chromium = { pid: child.pid ?? -1, send, events, stderr: () => stderr, close };
  try {
    await send("Browser.getVersion"); // the pipe answers: Chromium is up
  } catch (e) {
    await close();
    throw e;
  }
  return browser;
}

/** A tiny static server on 127.0.0.1 for a fixed set of files. */
export interface StaticServer {
  /** Base URL, ending in "/". */
  url: string;
  /** Each request as "METHOD /path status content-type". */
  log: string[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

/** Serves `files` (URL path → file on disk) on a free loopback port; anything else is 404. */
export async function serveFiles(files: Record<string, string>): Promise<StaticServer> {
  const log: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const file = files[path === "/" ? "/index.html" : path];
    if (req.method !== "GET" || file === undefined) {
      log.push(`${req.method} ${path} 404`);
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    const type = TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream";
    log.push(`${req.method} ${path} 200 ${type}`);
    res.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(readFileSync(file));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("static server has no port");
  return {
    url: `http://127.0.0.1:${addr.port}/`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
