// The consumer tests' common ground: the project packed once per test process (as `npm pack`
// makes it, so nothing outside `files` reaches a consumer), fresh consumer projects that install
// that tarball, the pinned tools that drive other runtimes (test/consumers/tools, its own
// lockfile), and a child-process runner that always ends what it started.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of a file in this repository. */
export const repo = (relative = ""): string => fileURLToPath(new URL(`../../${relative}`, import.meta.url));

/** Result of a bounded child process. */
export interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a command to completion or until `timeoutMs`, then kills its whole process group
 * (wrangler, workerd and Chromium start children of their own). Never throws for a bad exit:
 * the test asserts on the result.
 */
export function runBounded(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; input?: string },
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      killGroup(); // grandchildren left behind by a command that exited
      resolve({ status, signal, stdout, stderr, timedOut });
    });
    // A command that exits without reading its input closes the pipe: that is its result, not ours.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** Like {@link runBounded}, but throws with the output when the command fails or times out. */
export async function runOk(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; input?: string },
): Promise<Ran> {
  const r = await runBounded(cmd, args, opts);
  if (r.status !== 0 || r.timedOut) {
    throw new Error(
      `${cmd} ${args.join(" ")} ${r.timedOut ? `timed out after ${opts.timeoutMs} ms` : `exited ${r.status ?? r.signal}`}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
  return r;
}

let packed: string | undefined;

/**
 * The tarball a user would get: `npm pack` of this checkout (built by `npm run build` before the
 * tests; packing with --ignore-scripts so the test does not rebuild), once per process.
 */
export function packedTarball(): string {
  if (packed !== undefined) return packed;
  for (const f of ["dist/index.js", "dist/index.d.ts", "dist/wasm/dataplane.wasm", "dist/cli/main.js"]) {
    if (!existsSync(repo(f))) throw new Error(`${f} is missing: run \`npm run build\` before the consumer tests`);
  }
  const dest = mkdtempSync(join(tmpdir(), "ipsec-wasm-pack-"));
  const r = spawnSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", dest], {
    cwd: repo(),
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`npm pack failed: ${r.stderr}`);
  const tgz = readdirSync(dest).find((f) => f.endsWith(".tgz"));
  if (tgz === undefined) throw new Error(`npm pack wrote no tarball into ${dest}`);
  packed = join(dest, tgz);
  process.on("exit", () => rmSync(dest, { recursive: true, force: true }));
  return packed;
}

/** A fresh project outside the repository with the packed tarball installed. */
export interface Consumer {
  dir: string;
  /** Writes a file (relative to the project) and returns its absolute path. */
  write(relative: string, text: string): string;
  remove(): void;
}

/** What a consumer project is made of: extra npm packages, files, and the package type. */
export interface ConsumerOptions {
  deps?: Record<string, string>;
  files?: Record<string, string>;
  type?: "module" | "commonjs";
}

/** Writes the project and installs the tarball plus `deps`; `npmArgs` are extra npm flags. */
async function makeConsumer(
  name: string,
  opts: ConsumerOptions,
  npmArgs: string[],
): Promise<{ consumer: Consumer; install: Ran }> {
  const dir = mkdtempSync(join(tmpdir(), `ipsec-wasm-consumer-${name}-`));
  const write = (relative: string, text: string): string => {
    const path = join(dir, relative);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, text);
    return path;
  };
  write(
    "package.json",
    JSON.stringify({ name: `consumer-${name}`, private: true, type: opts.type ?? "module" }, null, 2),
  );
  for (const [f, text] of Object.entries(opts.files ?? {})) write(f, text);
  const specs = [packedTarball(), ...Object.entries(opts.deps ?? {}).map(([n, v]) => `${n}@${v}`)];
  const install = await runOk("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...npmArgs, ...specs], {
    cwd: dir,
    timeoutMs: 300_000,
  });
  return { consumer: { dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) }, install };
}

/**
 * Creates a consumer project: package.json (ESM unless `type` says otherwise), the tarball plus
 * `deps` installed with npm (from its cache when it has the packages), and `files`.
 */
export async function consumerProject(name: string, opts: ConsumerOptions = {}): Promise<Consumer> {
  return (await makeConsumer(name, opts, ["--loglevel=error"])).consumer;
}

let toolsReady = false;

/**
 * Path of a tool's executable from test/consumers/tools (pinned versions, its own lockfile,
 * installed with `npm ci` on first use, and again whenever the lockfile changed since the last
 * install): e.g. `tool("wrangler")`, `tool("bun")`.
 */
export async function tool(bin: string): Promise<string> {
  const dir = repo("test/consumers/tools");
  if (!toolsReady) {
    const lock = createHash("sha256")
      .update(readFileSync(join(dir, "package-lock.json")))
      .digest("hex");
    const stamp = join(dir, "node_modules/.ipsec-wasm-lock-sha256");
    if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== lock) {
      await runOk("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, timeoutMs: 600_000 });
      writeFileSync(stamp, lock);
    }
    toolsReady = true;
  }
  const path = join(dir, "node_modules/.bin", bin);
  if (!existsSync(path))
    throw new Error(`${bin} is not in test/consumers/tools: add it to test/consumers/tools/package.json`);
  return path;
}

/**
 * Like {@link consumerProject}, but the install runs at npm's default log level and its output is
 * returned, so a test can assert that a consumer install prints no warning (install scripts,
 * deprecations, engines).
 */
export function consumerProjectLogged(
  name: string,
  opts: ConsumerOptions = {},
): Promise<{ consumer: Consumer; install: Ran }> {
  return makeConsumer(name, opts, []);
}

/** A long-running child (a server under test) started by {@link startProcess}. */
export interface Started {
  readonly pid: number;
  /** Everything it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stdout; rejects when it exits first or after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Kills its whole process group (SIGKILL) and waits for it to be gone; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a long-running command in its own process group. The caller must `stop()` it in a
 * `finally`; as a last resort every process started here is killed when the test process exits.
 */
export function startProcess(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Started {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${cmd} did not start`);
  const pid = child.pid;
  let out = "";
  let err = "";
  let exited: string | undefined;
  const closed = new Promise<void>((resolve) =>
    child.on("close", (status, signal) => {
      exited = `exited ${status ?? signal}`;
      resolve();
    }),
  );
  child.on("error", (e) => (exited = `failed to start: ${e.message}`));
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const kill = (): void => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.on("exit", kill);
  return {
    pid,
    stdout: () => out,
    stderr: () => err,
    waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolve, reject) => {
        const poll = (): void => {
          const m = re.exec(out);
          if (m) return resolve(m);
          if (exited !== undefined)
            return reject(new Error(`${cmd} ${exited} before printing ${re}\n--- stdout\n${out}\n--- stderr\n${err}`));
          if (Date.now() > deadline)
            return reject(
              new Error(`${cmd} printed no ${re} within ${timeoutMs} ms\n--- stdout\n${out}\n--- stderr\n${err}`),
            );
          setTimeout(poll, 25);
        };
        poll();
      });
    },
    async stop() {
      kill();
      await closed;
      process.off("exit", kill);
    },
  };
}
