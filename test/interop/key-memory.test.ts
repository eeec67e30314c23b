// Key hygiene of the real daemons (issue 12): two `ipsec-wasm up` processes on loopback, the
// initiator rekeying its IKE SA every 4 s and its Child SA every 3 s, both exporting keys with
// --wireshark-keys. After rekeys, the writable memory of both processes (/proc/PID/mem) holds no
// key of an IKE or Child SA that is gone; after the initiator's DELETE (`down --all`) the
// responder holds none of the deleted SAs' keys either. Reading another process's memory needs
// root or ptrace rights over it (CI runs as root).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliHarness, freePort, waitFor, type Side } from "../helpers/cli-up.ts";
import { scanMemory } from "../helpers/memscan.ts";

const h = new CliHarness("key-memory");
const RESP: Side = { addr: "127.0.0.1", id: "resp.example.org", ts: "203.0.113.2/32" };
const INIT: Side = { addr: "127.0.0.2", id: "init.example.org", ts: "198.51.100.1/32" };
after(() => h.remove());

const fromHex = (s: string): Buffer => Buffer.from(s.replace(/^0x/, ""), "hex");
/** SK_ei and SK_er of each IKE SA in an ikev2_decryption_table, oldest first. */
function ikeKeys(dir: string): Buffer[][] {
  return readFileSync(join(dir, "ikev2_decryption_table"), "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const f = l.split(",");
      return [fromHex(f[2]!), fromHex(f[3]!)];
    });
}
/** The encryption key of each ESP SA in an esp_sa table, oldest first. */
function espKeys(dir: string): Buffer[] {
  return readFileSync(join(dir, "esp_sa"), "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => fromHex([...l.matchAll(/"([^"]*)"/g)].map((m) => m[1]!)[5]!));
}

test(
  "no key of a rekeyed or deleted IKE or Child SA is left in the daemons' memory",
  { timeout: 120_000 },
  async () => {
    const port = await freePort();
    const rtmp = h.dir("resp"),
      itmp = h.dir("init");
    const rkeys = join(h.work, "rkeys"),
      ikeysDir = join(h.work, "ikeys");
    const resp = h.startUp(
      ["--listen", "--conf", h.conf(RESP, INIT, port, { esp: "aes128gcm16" }), "--wireshark-keys", rkeys],
      rtmp,
    );
    await waitFor(resp, /listening on/);
    const init = h.startUp(
      [
        "--conf",
        h.conf(INIT, RESP, port, { esp: "aes128gcm16", ikeRekey: "4s", childRekey: "3s" }),
        "--wireshark-keys",
        ikeysDir,
      ],
      itmp,
    );
    await waitFor(init, /ESTABLISHED, IKEv2/);
    await waitFor(init, /rekeyed to t\[\d+\][\s\S]*rekeyed to t\[\d+\]/, 30_000); // two IKE rekeys
    await new Promise((r) => setTimeout(r, 1500)); // the old SAs' DELETEs are answered

    const ike = ikeKeys(ikeysDir);
    const esp = espKeys(ikeysDir);
    assert.ok(ike.length >= 3 && esp.length >= 8, `exported: ${ike.length} IKE SAs, ${esp.length} ESP SAs`);
    // The newest IKE SA and the newest Child SA (its two ESP SAs) are live; everything before is gone.
    const goneIke = ike.slice(0, -1).flat();
    const goneEsp = esp.slice(0, -4); // a rekey in flight may have added one more pair: spare the last two pairs
    for (const [name, pid] of [
      ["initiator", init.child.pid!],
      ["responder", resp.child.pid!],
    ] as const) {
      const counts = scanMemory(pid, [...goneIke, ...goneEsp]);
      assert.deepEqual(
        counts.filter((c) => c > 0),
        [],
        `${name}: keys of gone SAs found in memory: ${counts.join(" ")}`,
      );
      const liveIke = scanMemory(pid, ike.at(-1)!);
      assert.ok(
        liveIke.every((c) => c > 0),
        `${name}: the live IKE SA's keys are found (the scan works): ${liveIke.join(" ")}`,
      );
    }

    // DELETE from the initiator: the responder keeps running and must not keep the deleted SAs' keys.
    const down = h.cli(itmp, ["down", "--all"]);
    assert.equal(down.code, 0, down.out);
    await new Promise((r) => setTimeout(r, 1000));
    const all = [...ikeKeys(ikeysDir).flat(), ...espKeys(ikeysDir)];
    const after = scanMemory(resp.child.pid!, all);
    assert.deepEqual(
      after.filter((c) => c > 0),
      [],
      `responder after DELETE: ${after.join(" ")}`,
    );
    resp.child.kill("SIGINT");
    await resp.exited;
  },
);
