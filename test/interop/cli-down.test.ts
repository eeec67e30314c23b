// `ipsec-wasm down` (seed 003's emergency shutdown) against live peers: it must send DELETE for
// every IKE SA of the running `up`, report "deleted, confirmed by peer" when the peer answered
// (and the peer must have logged the DELETE), exit 0 and make `up` exit; when the peer is gone
// (killed by PID) it must report "no answer within S s" and exit non-zero (15), and `up` must
// still exit. Peers: our own `up --listen` over loopback UDP, and strongSwan (charon 5.9 in a
// network namespace, test/helpers/strongswan.ts). Every `up` gets a private TMPDIR, so `down --all`
// only ever sees this test's processes.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoPath } from "../helpers/interop.ts";
import { pskConf } from "../helpers/psk-conf.ts";
import { startSwanPeer, type SwanPeer, type CommandResult } from "../helpers/strongswan.ts";

const CLI = repoPath("bin/ipsec-wasm.mjs");
const work = mkdtempSync(join(tmpdir(), "ipsec-wasm-cli-down-"));
const children: ChildProcess[] = [];
const peers: SwanPeer[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const p of peers) await p.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

/** A directory for one process's control socket. */
function ctlDir(name: string): string {
  const d = join(work, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** A running CLI process with its collected output and exit. */
interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number>;
}

function track(child: ChildProcess): Proc {
  children.push(child);
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<number>((r) => child.on("exit", (c) => r(c ?? -1)));
  return { child, out: () => out, exited };
}

function startUp(args: string[], tmp: string): Proc {
  return track(
    spawn(process.execPath, [CLI, "up", ...args], { env: { ...process.env, TMPDIR: tmp }, cwd: repoPath(".") }),
  );
}

async function waitFor(p: Proc, re: RegExp, ms = 20_000): Promise<void> {
  for (let t = 0; t < ms && !re.test(p.out()); t += 100) await new Promise((r) => setTimeout(r, 100));
  assert.match(p.out(), re);
}

/** Exit code, or -2 if the process is still running after `ms`. */
function exitWithin(p: Proc, ms: number): Promise<number> {
  return Promise.race([p.exited, new Promise<number>((r) => setTimeout(() => r(-2), ms))]);
}

function down(tmp: string, args: string[]): CommandResult {
  const r = spawnSync(process.execPath, [CLI, "down", ...args], {
    env: { ...process.env, TMPDIR: tmp },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const show = (r: CommandResult): string => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

// ------------------------------------------------------------------ our own responder over loopback

async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const s = createSocket("udp4");
    const port = await new Promise<number>((r) => s.bind(0, "127.0.0.1", () => r(s.address().port)));
    const t = createSocket("udp4");
    const ok = await new Promise<boolean>((r) => {
      t.once("error", () => r(false));
      t.bind(port, "127.0.0.2", () => r(true));
    });
    s.close();
    if (ok) t.close();
    if (ok) return port;
  }
  throw new Error("no free UDP port on 127.0.0.1 and 127.0.0.2");
}

function loopConf(
  name: string,
  me: { addr: string; id: string; ts: string },
  peer: { addr: string; id: string; ts: string },
  port: number,
): string {
  const path = join(work, `${name}.conf`);
  writeFileSync(path, pskConf(me, peer, { port, esp: "aes128gcm16", psk: "cli-down-test-psk-not-secret" }));
  return path;
}

test("down against our own responder: CONN that nobody holds exits 3; `down t` is confirmed (exit 0); a killed peer gives 'no answer' (exit 15)", async () => {
  const port = await freePort();
  const R = { addr: "127.0.0.1", id: "resp.example.org", ts: "203.0.113.2/32" };
  const I = { addr: "127.0.0.2", id: "init.example.org", ts: "198.51.100.1/32" };
  const resp = startUp(["--listen", "--conf", loopConf("resp", R, I, port)], ctlDir("resp"));
  await waitFor(resp, /listening on/);

  const tmp1 = ctlDir("init1");
  const init1 = startUp(["--conf", loopConf("init", I, R, port)], tmp1);
  await waitFor(init1, /ESTABLISHED, IKEv2/);
  const none = down(tmp1, ["elsewhere"]);
  assert.equal(none.code, 3, show(none));
  assert.match(none.stderr, /no running `ipsec-wasm up` holds connection 'elsewhere'/);
  assert.equal(await exitWithin(init1, 500), -2, "up keeps running when down names another connection");

  const ok = down(tmp1, ["t"]);
  assert.equal(ok.code, 0, show(ok));
  assert.match(ok.stdout, /^t\[\d+\] [0-9a-f]{16}_i [0-9a-f]{16}_r 127\.0\.0\.1\[\d+\]: deleted, confirmed by peer/m);
  assert.equal(await exitWithin(init1, 10_000), 0, init1.out());
  await waitFor(resp, /received DELETE for IKE_SA/);

  const tmp2 = ctlDir("init2");
  const init2 = startUp(["--conf", loopConf("init", I, R, port)], tmp2);
  await waitFor(init2, /ESTABLISHED, IKEv2/);
  process.kill(resp.child.pid!, "SIGKILL");
  await resp.exited;
  const gone = down(tmp2, ["--all", "--timeout", "1"]);
  assert.equal(gone.code, 15, show(gone));
  assert.match(gone.stdout, /^t\[\d+\] .*: no answer within 1 s \(removed locally\)$/m);
  assert.match(gone.stderr, /1 of 1 IKE_SAs not confirmed by their peer/);
  assert.equal(await exitWithin(init2, 10_000), 0, init2.out());
});

test("down with nothing running exits 3; bad arguments exit 2", () => {
  const empty = ctlDir("empty");
  const r = down(empty, ["--all"]);
  assert.equal(r.code, 3, show(r));
  assert.match(r.stderr, /no running `ipsec-wasm up` found/);
  assert.equal(down(empty, []).code, 2);
  assert.equal(down(empty, ["--all", "t"]).code, 2);
  assert.equal(down(empty, ["--all", "--timeout", "0"]).code, 2);
});

// ------------------------------------------------------------------ strongSwan

function swanConf(name: string): string {
  const path = join(work, `${name}.conf`);
  writeFileSync(
    path,
    `connections {
  peer {
    local_addrs = 198.18.0.1
    remote_addrs = 198.18.0.2
    proposals = aes128gcm16-prfsha256-x25519
    local {
      auth = psk
      id = client.example.org
    }
    remote {
      auth = psk
      id = swan.example.org
    }
    children {
      net {
        local_ts = 198.51.100.1/32
        remote_ts = 203.0.113.0/24
        esp_proposals = aes128gcm16
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = client.example.org
    id-2 = swan.example.org
    secret = interop-test-psk-not-secret
  }
}
`,
  );
  return path;
}

test("down --all against strongSwan: DELETE confirmed (charon logs it, no IKE_SA left there); after charon is killed: 'no answer within 2 s', exit 15", async () => {
  const p = await startSwanPeer({
    env: { SWAN_IKE_PROPOSALS: "aes128gcm16-prfsha256-x25519", SWAN_ESP_PROPOSALS: "aes128gcm16" },
  });
  peers.push(p);
  const tmp = ctlDir("swan1");
  const up1 = track(
    p.spawnInCaller([process.execPath, CLI, "up", "--conf", swanConf("swan")], {
      env: { TMPDIR: tmp },
      cwd: repoPath("."),
    }),
  );
  await waitFor(up1, /ESTABLISHED, IKEv2/);
  assert.match(await p.sas(), /ESTABLISHED/);
  const ok = await p.inCaller([process.execPath, CLI, "down", "--all"], { env: { TMPDIR: tmp }, timeoutMs: 30_000 });
  assert.equal(ok.code, 0, show(ok));
  assert.match(
    ok.stdout,
    /^peer\[\d+\] [0-9a-f]{16}_i [0-9a-f]{16}_r 198\.18\.0\.2\[4500\]: deleted, confirmed by peer/m,
  );
  assert.equal(await exitWithin(up1, 10_000), 0, up1.out());
  const log = await p.logs(400);
  assert.match(log, /received DELETE for IKE_SA peer\[\d+\]/);
  assert.doesNotMatch(await p.sas(), /ESTABLISHED/);

  const tmp2 = ctlDir("swan2");
  const up2 = track(
    p.spawnInCaller([process.execPath, CLI, "up", "--conf", swanConf("swan")], {
      env: { TMPDIR: tmp2 },
      cwd: repoPath("."),
    }),
  );
  await waitFor(up2, /ESTABLISHED, IKEv2/);
  process.kill(p.charonPid, "SIGKILL");
  const gone = await p.inCaller([process.execPath, CLI, "down", "--all", "--timeout", "2"], {
    env: { TMPDIR: tmp2 },
    timeoutMs: 30_000,
  });
  assert.equal(gone.code, 15, show(gone));
  assert.match(gone.stdout, /^peer\[\d+\] .* 198\.18\.0\.2\[4500\]: no answer within 2 s \(removed locally\)$/m);
  assert.equal(await exitWithin(up2, 10_000), 0, up2.out());
});
