// `wrangler dev` for the workerd consumer test: started in its own process group (wrangler, its
// esbuild service and the workerd processes), local mode on 127.0.0.1, with no login, no metrics,
// no cf.json download; stop() kills the whole group.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released for the child to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/**
 * The environment wrangler runs in: a throwaway config home (no login state, no metrics
 * consent from the user's machine), metrics and error reports off, CI mode (no prompts), no
 * cf.json fetch from Cloudflare (Miniflare's fallback `request.cf` instead), and no Cloudflare
 * account variables passed through.
 */
export function wranglerEnv(configHome: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (/^(CLOUDFLARE_|CF_)/.test(k)) delete env[k];
  return {
    ...env,
    XDG_CONFIG_HOME: configHome,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    CI: "true",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  };
}

/** A running `wrangler dev`. */
export interface WranglerDev {
  /** Base URL the worker answers on, ending in "/". */
  url: string;
  /** stdout and stderr so far. */
  output(): string;
  /** Kills the process group and removes the config home. */
  stop(): Promise<void>;
}

/**
 * Starts `wrangler dev` in `cwd` on free loopback ports and waits until it says "Ready on";
 * fails (after killing everything) if that takes longer than `timeoutMs` or wrangler exits.
 */
export async function wranglerDev(wrangler: string, cwd: string, opts: { timeoutMs: number }): Promise<WranglerDev> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const configHome = mkdtempSync(join(tmpdir(), "ipsec-wasm-wrangler-home-"));
  const args = [
    "dev",
    "--local",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-ip",
    "127.0.0.1",
    "--inspector-port",
    String(inspectorPort),
    "--show-interactive-dev-session=false",
    "--log-level",
    "info",
  ];
  const child = spawn(wrangler, args, {
    cwd,
    env: wranglerEnv(configHome),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let exited: string | undefined;
  const exitedP = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = String(code ?? signal);
      resolve();
    }),
  );
  const killGroup = (): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", killGroup); // the test process dying still takes workerd along
  const stop = async (): Promise<void> => {
    process.off("exit", killGroup);
    killGroup();
    if (exited === undefined) await Promise.race([exitedP, new Promise((r) => setTimeout(r, 5000))]);
    rmSync(configHome, { recursive: true, force: true });
  };

  const ready = new RegExp(`Ready on http://127\\.0\\.0\\.1:${port}\\b`);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`wrangler dev was not ready in ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      );
      const onData = (d: Buffer): void => {
        output += d.toString("utf8");
        if (ready.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      void exitedP.then(() => {
        clearTimeout(timer);
        reject(new Error(`wrangler dev exited (${exited}) before it was ready`));
      });
    });
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- wrangler ${args.join(" ")}\n${output}`, { cause: e });
  }
  return { url: `http://127.0.0.1:${port}/`, output: () => output, stop };
}
