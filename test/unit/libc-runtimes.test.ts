// loadLibc in each runtime's own FFI, without root (issue 15): test/deno/libc-ffi-check.ts run by
// Node (koffi) and by the real Deno binary of the devDependency `deno` (Deno.dlopen): eventfd,
// poll, read/write, errno, strerror, a loopback UDP socket with sendto/sendmmsg/recvmmsg, open,
// writeView, the thread CPU clock. Deno without --allow-ffi gets one FFI_MISSING message naming
// the flag. Bun runs the same script in test/interop/tun-runtimes.test.ts (its binary comes from
// test/consumers/tools).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { repoPath } from "../helpers/interop.ts";

const SCRIPT = repoPath("test/deno/libc-ffi-check.ts");
const DENO = repoPath("node_modules/.bin/deno");

function run(cmd: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, {
    cwd: repoPath("."),
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (r.error) throw new Error(`${cmd} did not run: ${r.error.message}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectClean(r: { code: number | null; stdout: string; stderr: string }, runtime: string): void {
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { runtime: string; failures: string[] };
  assert.equal(out.runtime, runtime);
  assert.deepEqual(out.failures, []);
}

test("Node: libc through koffi (eventfd, poll, errno, UDP sendmmsg/recvmmsg on loopback)", { timeout: 60_000 }, () => {
  expectClean(run(process.execPath, ["--import", "tsx", SCRIPT]), "node");
});

test("Deno: libc through Deno.dlopen with --allow-ffi only, the same checks", { timeout: 60_000 }, () => {
  assert.ok(existsSync(DENO), `${DENO} is missing: npm ci installs the devDependency deno`);
  expectClean(run(DENO, ["run", "--allow-ffi", "--no-check", SCRIPT]), "deno");
});

test("Deno without --allow-ffi: FFI_MISSING naming the flag", { timeout: 60_000 }, () => {
  const r = run(DENO, ["run", "--no-check", SCRIPT]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /IoError: libc check needs FFI to libc: run deno with --allow-ffi/);
});
