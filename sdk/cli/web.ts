/**
 * `ipsec-wasm web`: serves the page that decrypts ESP captures in the browser (web/, built into
 * web/dist/ by `npm run build:web`) on the loopback address and prints its URL. The server only
 * hands out the page's own files; the captures and keys the page reads never reach it (the page's
 * Content-Security-Policy allows no other connection either).
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { CliCommand, CliIo } from "./command.ts";

/** Where `npm run build:web` writes the page, relative to this module (sdk/cli/ or dist/cli/). */
export const PAGE_DIR = fileURLToPath(new URL("../../web/dist/", import.meta.url));

const HOST = "127.0.0.1";

/** Usage text of `ipsec-wasm web`. */
export const WEB_USAGE = `Usage: ipsec-wasm web [--port N] [--dir DIR]

Serves the ESP capture decryption page on http://${HOST}:PORT/ and prints the URL. In the page,
drop a pcap/pcapng capture and an SA file (SAS.json, \`ip xfrm state\` output, Wireshark esp_sa,
or a strongSwan charon log with chd = 4): it shows each frame's verdict and reason, the ICV and
key diagnostics and the per-SA counters, and downloads the decrypted pcap. Everything runs in
the browser; the files are never sent anywhere, this server included.

  --port N      port on ${HOST} (default: a free one)
  --dir DIR     serve this built page instead of the packaged one (web/dist/)
  -h, --help    this text

The page also works opened from disk (web/dist/index.html), without a Web Worker.
Stops with Ctrl-C. Exit status: 2 on bad arguments, a busy port or a missing page (one line).
`;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

const CSP =
  "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Answers one request: only GET/HEAD of files inside `root`, only for Host 127.0.0.1/localhost:port. */
function handler(root: string, port: () => number) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const send = (status: number, body: string): void => {
      res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    // A page on another site that resolves its name to 127.0.0.1 (DNS rebinding) gets nothing.
    const host = req.headers.host ?? "";
    if (host !== `${HOST}:${port()}` && host !== `localhost:${port()}`) return send(421, "wrong Host\n");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      return send(405, "only GET and HEAD\n");
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      return send(400, "bad path\n");
    }
    if (path.endsWith("/")) path += "index.html";
    const file = resolve(root, `.${path}`);
    if (!file.startsWith(root + sep) || path.includes("\0")) return send(404, "not found\n");
    let body: Buffer;
    try {
      if (!statSync(file).isFile() || !realpathSync(file).startsWith(root + sep)) return send(404, "not found\n");
      body = readFileSync(file);
    } catch {
      return send(404, "not found\n");
    }
    res.writeHead(200, {
      "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
      "Content-Length": body.length,
      "Content-Security-Policy": CSP,
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
      "Cross-Origin-Resource-Policy": "same-origin",
      "Cache-Control": "no-store",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };
}

async function run(args: string[], io: CliIo): Promise<number> {
  const fail = (msg: string): number => {
    io.err(`ipsec-wasm web: ${msg}\n`);
    return 2;
  };
  let values: { port?: string; dir?: string };
  try {
    ({ values } = parseCommandArgs(args, { port: { type: "string" }, dir: { type: "string" } }, { command: "web" }));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return fail(e.message);
  }
  let port = 0;
  if (values.port !== undefined) {
    if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535)
      return fail(`--port must be 0..65535, got '${values.port}' (see \`ipsec-wasm web --help\`)`);
    port = Number(values.port);
  }
  const dir = values.dir !== undefined ? resolve(values.dir) : PAGE_DIR;
  if (!existsSync(join(dir, "index.html"))) {
    return fail(
      values.dir !== undefined
        ? `${dir} has no index.html`
        : `the page is not built (no ${join(dir, "index.html")}); run \`npm run build:web\``,
    );
  }
  const root = realpathSync(dir);
  let bound = 0;
  const server = createServer(handler(root, () => bound));
  const listening = await new Promise<NodeJS.ErrnoException | undefined>((done) => {
    server.once("error", (e: NodeJS.ErrnoException) => done(e));
    server.listen(port, HOST, () => done(undefined));
  });
  if (listening) {
    if (listening.code === "EADDRINUSE")
      return fail(`port ${port} on ${HOST} is in use; choose another with --port, or leave --port out for a free one`);
    if (listening.code === "EACCES") return fail(`not allowed to listen on ${HOST}:${port}; use a port above 1023`);
    return fail(`cannot listen on ${HOST}:${port}: ${listening.message}`);
  }
  const address = server.address();
  bound = typeof address === "object" && address ? address.port : port;
  io.out(
    `ipsec-wasm web: the capture decryption page is at http://${HOST}:${bound}/ (serving ${root}; Ctrl-C stops)\n`,
  );
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      server.close(() => done());
      server.closeAllConnections();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return 0;
}

/** The `web` entry of the CLI's command table. */
export const webCommand: CliCommand = { usage: WEB_USAGE, run };
