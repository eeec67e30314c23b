// Key hygiene of the IKE key derivation: every buffer that held secret material during prf+,
// SKEYSEED and KEYMAT derivation is zero afterwards, except the keys returned (which their owner
// wipes). Checked by a PRF wrapper that keeps every buffer it was given or returned.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { deriveChildKeys, deriveIkeKeys, prfFor, prfPlus, type Prf } from "../../sdk/ike/keys.ts";
import type { IkeSa } from "../../sdk/ike/ike-sa.ts";
import { makePair, settle } from "../helpers/ike-pair.ts";
import { scanMemory } from "../helpers/memscan.ts";

function spyPrf(inner: Prf): { prf: Prf; seen: Uint8Array[] } {
  const seen: Uint8Array[] = [];
  return {
    seen,
    prf: {
      id: inner.id,
      bytes: inner.bytes,
      mac: (k, d) => {
        const out = inner.mac(k, d);
        seen.push(d, out);
        return out;
      },
    },
  };
}

const zero = (b: Uint8Array): boolean => b.every((x) => x === 0);
const contains = (hay: Uint8Array, needle: Uint8Array): boolean => Buffer.from(hay).includes(Buffer.from(needle));

test("key derivation leaves no secret in its intermediate buffers (prf+ blocks, SKEYSEED, KEYMAT, PFS seed)", async () => {
  const cc = await ControlCrypto.create();
  const { prf, seen } = spyPrf(prfFor(cc, 5));
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const secretCopy = secret.slice();
  const ni = crypto.getRandomValues(new Uint8Array(32)),
    nr = crypto.getRandomValues(new Uint8Array(32));
  const spiI = crypto.getRandomValues(new Uint8Array(8)),
    spiR = crypto.getRandomValues(new Uint8Array(8));
  const keys = deriveIkeKeys(prf, { encr: 36, integ: 0 }, secret, ni, nr, spiI, spiR);
  const pfs = crypto.getRandomValues(new Uint8Array(32));
  const pfsCopy = pfs.slice();
  const child = deriveChildKeys(prf, keys.skD, ni, nr, { encr: 36, integ: 0 }, pfs);
  // The callers zero the DH secrets right after (IkeSa.deriveKeys, the Child SA install).
  secret.fill(0);
  pfs.fill(0);
  const returned = [...Object.values(keys), ...Object.values(child)];
  // The PRF's outputs (SKEYSEED, T1..Tn) and the inputs that carried a previous block or a DH secret
  // are wiped; the only inputs left readable are the public ones (Ni | Nr).
  let wiped = 0;
  for (const b of seen) {
    if (returned.includes(b)) continue;
    if (zero(b)) {
      wiped++;
      continue;
    }
    assert.ok(
      !returned.some((k) => k.length >= 8 && contains(b, k.subarray(0, 8))),
      "a buffer still holds part of a returned key",
    );
    assert.ok(
      !contains(b, secretCopy.subarray(0, 16)) && !contains(b, pfsCopy.subarray(0, 16)),
      "a buffer still holds the DH secret",
    );
    assert.deepEqual(b, Buffer.concat([ni, nr]), "only the public nonce input is left");
  }
  assert.ok(wiped >= 10, `buffers wiped: ${wiped}`);
  for (const k of returned) if (k.length > 0) assert.ok(!zero(k), "the returned keys are intact");
});

test("after rekeys and DELETE, no IKE or Child SA key of a gone SA is anywhere in this process's memory (/proc/self/mem)", async () => {
  const A = {
    addr: "198.18.0.1",
    remoteAddr: "198.18.0.2",
    id: "client.example.org",
    remoteId: "swan.example.org",
    localTs: "198.51.100.1/32",
    remoteTs: "203.0.113.0/24",
  };
  const B = {
    addr: "198.18.0.2",
    remoteAddr: "198.18.0.1",
    id: "swan.example.org",
    remoteId: "client.example.org",
    localTs: "203.0.113.0/24",
    remoteTs: "198.51.100.0/24",
  };
  // Keys are remembered as hex text only: a byte copy kept here would be found by the scan.
  const gone: string[] = [];
  const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const p = await makePair(A, B, {
    keyLog: (rec) => {
      gone.push(hexOf(rec.encKey));
      rec.encKey.fill(0);
      rec.integKey.fill(0);
    }, // as the CLI's key writer does
  });
  const r = p.a.initiate("peer");
  await settle();
  await r;
  const live = (): IkeSa => [...p.a.sas.values()].find((s) => s.state === "ESTABLISHED")!;
  for (let round = 0; round < 2; round++) {
    const k = live().keys!;
    gone.push(hexOf(k.skEi), hexOf(k.skEr), hexOf(k.skD), hexOf(k.skPi), hexOf(k.skPr));
    live().rekeyChild([...live().children.values()][0]!);
    await settle();
    live().rekeyIke();
    await settle();
  }
  const last = live().keys!;
  gone.push(hexOf(last.skEi), hexOf(last.skEr), hexOf(last.skD));
  await live().delete();
  await p.clock.advance(60_000);
  p.a.close();
  p.b.close();
  const unique = [...new Set(gone)];
  const needles = unique.map((h) => Buffer.from(h, "hex"));
  assert.ok(needles.length >= 15, `keys checked: ${needles.length}`);
  const counts = scanMemory(process.pid, needles);
  // Each needle is found once: itself.
  assert.deepEqual(counts.map((c, i) => (c === 1 ? "" : `${unique[i]!.slice(0, 8)}…: ${c}`)).filter(Boolean), []);
});

test("prf+ in one ControlCrypto call equals prf+ by one HMAC per block (SHA-1/256/384/512, 1 to 500 bytes)", async () => {
  const cc = await ControlCrypto.create();
  for (const id of [2, 5, 6, 7]) {
    const fast = prfFor(cc, id);
    assert.ok(fast.plus, "prfFor gives the one-call prf+");
    const slow: Prf = { id: fast.id, bytes: fast.bytes, mac: fast.mac };
    for (const len of [1, 20, 32, 33, 168, 500]) {
      const key = crypto.getRandomValues(new Uint8Array(40));
      const seed = crypto.getRandomValues(new Uint8Array(80));
      assert.deepEqual(prfPlus(fast, key, seed, len), prfPlus(slow, key, seed, len), `PRF ${id}, ${len} bytes`);
    }
  }
});
