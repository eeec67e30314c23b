// The ICV-truncation detector (sdk/diag/icv-truncation.ts, wasm assembly/diag/icv-probe.ts) on
// packets made outside our stack: node:crypto (OpenSSL) HMAC + AES-CBC per RFC 4303/2404/4868
// (test/helpers/esp-ref.ts), each first checked to verify with OpenSSL at the peer's ICV length,
// and packets from our own encapsulator configured with the other icvLength. Every test fails when
// the diagnostic is missing, names the wrong length or keyword, or fires when it must not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane, type SaConfig } from "../../sdk/index.ts";
import {
  IcvTruncationDetector,
  type Diagnostic,
  type IcvTruncationDetectorOptions,
} from "../../sdk/diag/icv-truncation.ts";
import { refDecap, refEncap, ipv4Udp, type RefSa } from "../helpers/esp-ref.ts";

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 29 + seed * 11 + 3) & 255);
const AES128 = bytes(16, 1),
  AES256 = bytes(32, 2);
const HASH_BYTES = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 } as const;
type Hash = keyof typeof HASH_BYTES;
const integ = (h: Hash, seed = 5): Uint8Array => bytes(HASH_BYTES[h], seed);

interface Rig {
  dp: Dataplane;
  det: IcvTruncationDetector;
  events: Diagnostic[];
  logs: string[];
  clock: { t: number };
}

async function rig(opts: IcvTruncationDetectorOptions = {}): Promise<Rig> {
  const dp = await Dataplane.create({ maxSas: 64, batchSize: 64 });
  const clock = { t: 1_700_000_000_000 };
  const events: Diagnostic[] = [],
    logs: string[] = [];
  const det = new IcvTruncationDetector(dp, { now: () => clock.t, log: (l) => logs.push(l), ...opts });
  det.on((d) => events.push(d));
  return { dp, det, events, logs, clock };
}

function inbound(
  dp: Dataplane,
  spi: number,
  esp: string,
  encKey: Uint8Array,
  integKey?: Uint8Array,
  extra: Partial<SaConfig> = {},
): number {
  return dp.addSa({ spi, direction: "in", mode: "tunnel", esp, encKey, integKey, ...extra });
}

/** Reference packets seq from..to, each checked to verify with OpenSSL at the reference's own ICV length. */
function refPackets(sa: RefSa, from: bigint, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const seq = from + BigInt(i);
    const inner = ipv4Udp(20 + i * 7);
    const p = refEncap(sa, seq, inner, 4);
    assert.deepEqual(
      new Uint8Array(refDecap(sa, p, Number(seq >> 32n)).payload),
      inner,
      "reference packet verifies at its own length",
    );
    out.push(new Uint8Array(p));
  }
  return out;
}

const only1 = (det: IcvTruncationDetector, spi: number): Diagnostic => det.diagnostics().find((d) => d.spi === spi)!;
const only = (det: IcvTruncationDetector): Diagnostic => {
  const ds = det.diagnostics();
  assert.equal(ds.length, 1, JSON.stringify(ds));
  return ds[0]!;
};

test("peer sends 96-bit ICVs (Linux `auth hmac(sha256)`), we expect RFC 4868's 128: CBC and NULL", async () => {
  const { dp, det, events, logs } = await rig();
  const ik = integ("sha256");
  const cbc = inbound(dp, 0x1001, "aes128-sha256", AES128, ik);
  const nul = inbound(dp, 0x1002, "null-sha256", new Uint8Array(0), ik);
  const cbcPeer: RefSa = { spi: 0x1001, suite: "cbc", key: AES128, integKey: ik, hash: "sha256", icv: 12 };
  const nulPeer: RefSa = { spi: 0x1002, suite: "null", key: new Uint8Array(0), integKey: ik, hash: "sha256", icv: 12 };
  const r = dp.decapsulateBatch([...refPackets(cbcPeer, 1n, 5), ...refPackets(nulPeer, 1n, 5)]);
  // Decap checks the ICV before CBC's whole-block rule (as Linux does), so both count as integrity failures.
  assert.deepEqual(
    r.map((x) => x.status),
    Array(10).fill("integrity-failed"),
  );
  assert.equal(
    r.some((x) => x.payload),
    false,
  );

  const ds = det.diagnostics();
  assert.equal(ds.length, 2);
  const [a, b] = ds;
  assert.deepEqual(
    { ...a, message: "", hint: "" },
    {
      kind: "icv-truncation",
      spi: 0x1001,
      sa: cbc,
      suite: "aes128-sha256",
      configuredIcvBits: 128,
      peerIcvBits: 96,
      failures: 5,
      probed: 4,
      matched: 4,
      message: "",
      hint: "",
      severity: "error",
      since: 1_700_000_000_000,
      evidence: { failures: 5, truncated: 0, probed: 4, matched: 4, configuredIcvBits: 128, peerIcvBits: 96 },
    },
  );
  assert.equal(
    a!.message,
    "SA 0x00001001 (aes128-sha256, 128-bit ICV): 5 integrity failures; the peer's packets verify with a 96-bit ICV — it is using the Linux default " +
      "`auth hmac(sha256)` (ip xfrm without auth-trunc, strongSwan through kernel-pfkey, or a `sha256_96` proposal); " +
      "set `aes128-sha256_96` here or `auth-trunc hmac(sha256) KEY 128` there (strongSwan: `sha256` with kernel-netlink, not kernel-pfkey).",
  );
  assert.equal(
    a!.hint,
    "set `aes128-sha256_96` here or `auth-trunc hmac(sha256) KEY 128` there (strongSwan: `sha256` with kernel-netlink, not kernel-pfkey)",
  );
  assert.equal(b!.kind, "icv-truncation");
  assert.equal(b!.sa, nul);
  assert.equal(b!.peerIcvBits, 96);
  assert.equal(b!.configuredIcvBits, 128);
  assert.match(
    b!.message,
    /^SA 0x00001002 \(null-sha256, 128-bit ICV\): 5 integrity failures; the peer's packets verify with a 96-bit ICV/,
  );
  assert.match(b!.message, /set `null-sha256_96` here or `auth-trunc hmac\(sha256\) KEY 128` there/);
  // One event and one log line per SA, raised after the batch that brought the first proof.
  assert.deepEqual(
    events.map((e) => [e.spi, e.kind, e.peerIcvBits, e.failures]),
    [
      [0x1001, "icv-truncation", 96, 5],
      [0x1002, "icv-truncation", 96, 5],
    ],
  );
  assert.deepEqual(logs, [`ipsec-wasm: ${a!.message}`, `ipsec-wasm: ${b!.message}`]);
  dp.decapsulateBatch(refPackets(cbcPeer, 6n, 1));
  assert.equal(events.length, 2, "no repeat within a minute");
  assert.equal(only1(det, 0x1001).failures, 6);
});

test("our own encapsulator at icvLength 12 into an SA at 16, and the reverse", async () => {
  const { dp, det } = await rig();
  const ik = integ("sha256", 9);
  const out96 = dp.addSa({
    spi: 0x2001,
    direction: "out",
    mode: "tunnel",
    esp: "aes256-sha256",
    encKey: AES256,
    integKey: ik,
    icvLength: 12,
  });
  const out128 = dp.addSa({
    spi: 0x2002,
    direction: "out",
    mode: "tunnel",
    esp: "aes256-sha256_96",
    encKey: AES256,
    integKey: ik,
    icvLength: 16,
  });
  inbound(dp, 0x2001, "aes256-sha256", AES256, ik);
  inbound(dp, 0x2002, "aes256-sha256_96", AES256, ik);
  const inners = [ipv4Udp(10), ipv4Udp(300), ipv4Udp(64)];
  const a = dp.encapsulateBatch(out96, inners).map((e) => e.packet!);
  const b = dp.encapsulateBatch(out128, inners).map((e) => e.packet!);
  // OpenSSL agrees what these are: 96- and 128-bit HMAC-SHA-256 ICVs over SPI..ciphertext.
  for (const p of a) refDecap({ spi: 0x2001, suite: "cbc", key: AES256, integKey: ik, hash: "sha256", icv: 12 }, p);
  for (const p of b) refDecap({ spi: 0x2002, suite: "cbc", key: AES256, integKey: ik, hash: "sha256", icv: 16 }, p);
  dp.decapsulateBatch([...a, ...b]);
  const [x, y] = det.diagnostics();
  assert.deepEqual(
    [x!.spi, x!.kind, x!.configuredIcvBits, x!.peerIcvBits, x!.failures],
    [0x2001, "icv-truncation", 128, 96, 3],
  );
  assert.match(x!.hint, /^set `aes256-sha256_96` here or `auth-trunc hmac\(sha256\) KEY 128` there/);
  assert.deepEqual(
    [y!.spi, y!.kind, y!.configuredIcvBits, y!.peerIcvBits, y!.failures],
    [0x2002, "icv-truncation", 96, 128, 3],
  );
  // The peer is the RFC 4868 one: the fix is here; moving the peer to 96 bits is named as the non-standard fallback.
  assert.equal(
    y!.message,
    "SA 0x00002002 (aes256-sha256_96, 96-bit ICV): 3 integrity failures; the peer's packets verify with a 128-bit ICV — RFC 4868's length (strongSwan `sha256`, " +
      "Linux `auth-trunc hmac(sha256) KEY 128`); set `aes256-sha256` here: the peer follows RFC 4868 (making it send 96-bit ICVs, " +
      "`auth-trunc hmac(sha256) KEY 96` or strongSwan `sha256_96` there, also works but is non-standard).",
  );
});

test("peer at 128 bits, we at 96 (node:crypto, NULL encryption: integrity-failed)", async () => {
  const { dp, det } = await rig();
  const ik = integ("sha256", 3);
  inbound(dp, 0x3001, "null-sha256_96", new Uint8Array(0), ik);
  const r = dp.decapsulateBatch(
    refPackets({ spi: 0x3001, suite: "null", key: new Uint8Array(0), integKey: ik, hash: "sha256", icv: 16 }, 1n, 4),
  );
  assert.ok(r.every((x) => x.status === "integrity-failed"));
  const d = only(det);
  assert.deepEqual(
    [d.kind, d.configuredIcvBits, d.peerIcvBits, d.failures, d.matched],
    ["icv-truncation", 96, 128, 4, 4],
  );
  assert.match(
    d.message,
    /^SA 0x00003001 \(null-sha256_96, 96-bit ICV\): 4 integrity failures; the peer's packets verify with a 128-bit ICV — RFC 4868's length/,
  );
  assert.match(d.hint, /^set `null-sha256` here: the peer follows RFC 4868/);
});

test("SHA-384, SHA-512 and SHA-1 SAs: the peer's truncation and the right keywords", async () => {
  const { dp, det } = await rig();
  const cases: {
    spi: number;
    esp: string;
    hash: Hash;
    peerIcv: number;
    ourBits: number;
    there: RegExp;
    here?: RegExp;
  }[] = [
    {
      spi: 0x4001,
      esp: "aes256-sha384",
      hash: "sha384",
      peerIcv: 16,
      ourBits: 192,
      there: /`auth hmac\(sha384\)` or `auth-trunc hmac\(sha384\) KEY 192` there \(strongSwan: `sha384`\)/,
    },
    {
      spi: 0x4002,
      esp: "aes256-sha384",
      hash: "sha384",
      peerIcv: 32,
      ourBits: 192,
      there: /`auth-trunc hmac\(sha384\) KEY 192` there/,
    },
    {
      spi: 0x4003,
      esp: "aes128-sha512",
      hash: "sha512",
      peerIcv: 24,
      ourBits: 256,
      there: /`auth hmac\(sha512\)` or `auth-trunc hmac\(sha512\) KEY 256` there \(strongSwan: `sha512`\)/,
    },
    {
      spi: 0x4004,
      esp: "null-sha512",
      hash: "sha512",
      peerIcv: 12,
      ourBits: 256,
      there: /`auth-trunc hmac\(sha512\) KEY 256` there/,
    },
    {
      spi: 0x4005,
      esp: "aes128-sha1",
      hash: "sha1",
      peerIcv: 16,
      ourBits: 96,
      there: /`auth hmac\(sha1\)` or `auth-trunc hmac\(sha1\) KEY 96` there \(strongSwan: `sha1`\)/,
    },
  ];
  const packets: Uint8Array[] = [];
  for (const c of cases) {
    const nul = c.esp.startsWith("null");
    const key = nul ? new Uint8Array(0) : c.esp.startsWith("aes256") ? AES256 : AES128;
    const ik = integ(c.hash, c.spi & 0xff);
    inbound(dp, c.spi, c.esp, key, ik);
    packets.push(
      ...refPackets(
        { spi: c.spi, suite: nul ? "null" : "cbc", key, integKey: ik, hash: c.hash, icv: c.peerIcv },
        1n,
        2,
      ),
    );
  }
  dp.decapsulateBatch(packets);
  const ds = det.diagnostics();
  assert.equal(ds.length, cases.length);
  cases.forEach((c, i) => {
    const d = ds[i];
    assert.equal(d!.spi, c.spi);
    assert.equal(d!.kind, "icv-truncation", d!.message);
    assert.equal(d!.configuredIcvBits, c.ourBits);
    assert.equal(d!.peerIcvBits, c.peerIcv * 8, d!.message);
    assert.equal(d!.matched, 2);
    // These suites take only the RFC length here: the fix is on the peer.
    assert.match(
      d!.hint,
      new RegExp(`^this side supports only ${c.ourBits}-bit ICVs for HMAC-${c.hash.toUpperCase()}: set `),
      d!.hint,
    );
    assert.match(d!.message, c.there, d!.message);
    assert.ok(d!.message.includes(`the peer's packets verify with a ${c.peerIcv * 8}-bit ICV`), d!.message);
  });
  assert.match(
    ds[0]!.message,
    /a non-standard truncation \(Linux `auth-trunc hmac\(sha384\) KEY 128`\); RFC 4868 says 192 bits for HMAC-SHA384/,
  );
});

test("ESN: the probe infers the high half of the sequence number as decap does", async () => {
  const { dp, det } = await rig({ maxProbesPerSecond: 100 });
  const ik = integ("sha256", 7);
  // Highest received 2^32 + 0xfffffff0: wire 0xfffffff5 is in epoch 1; wire 3 is past the top: epoch 2.
  inbound(dp, 0x5001, "aes128-sha256-esn", AES128, ik, { seq: (1n << 32n) + 0xfffffff0n });
  const peer: RefSa = { spi: 0x5001, suite: "cbc", key: AES128, integKey: ik, hash: "sha256", icv: 12, esn: true };
  const packets = [...refPackets(peer, (1n << 32n) + 0xfffffff5n, 2), ...refPackets(peer, (2n << 32n) + 3n, 2)];
  // A packet MACed with the wrong epoch verifies at no length: the probe must not match it.
  const wrongEpoch = refPackets(peer, (5n << 32n) + 7n, 1);
  dp.decapsulateBatch([...packets, ...wrongEpoch]);
  const d = only(det);
  assert.deepEqual(
    [d.kind, d.suite, d.peerIcvBits, d.failures, d.probed, d.matched],
    ["icv-truncation", "aes128-sha256-esn", 96, 5, 5, 4],
  );
  assert.match(d.hint, /^set `aes128-sha256_96-esn` here/);
});

test("wrong key: no truncation claim; 'key mismatch or corruption' only after 3 probed failures", async () => {
  const { dp, det, events } = await rig();
  inbound(dp, 0x6001, "aes128-sha256", AES128, integ("sha256", 1));
  const peer: RefSa = { spi: 0x6001, suite: "cbc", key: AES128, integKey: integ("sha256", 2), hash: "sha256", icv: 16 };
  const packets = refPackets(peer, 1n, 4);
  dp.decapsulateBatch(packets.slice(0, 2));
  assert.deepEqual(det.diagnostics(), []);
  assert.equal(events.length, 0);
  dp.decapsulateBatch(packets.slice(2, 3));
  const d = only(det);
  assert.equal(d.kind, "integrity-key-mismatch");
  assert.equal(d.peerIcvBits, undefined);
  assert.deepEqual([d.failures, d.probed, d.matched, d.configuredIcvBits], [3, 3, 0, 128]);
  assert.ok(
    d.message.startsWith(
      "SA 0x00006001 (aes128-sha256, 128-bit ICV): key mismatch or corruption: 3 integrity failures, " +
        "none verify at 96/128/192/256 bits with this SA's key; ",
    ),
    d.message,
  );
  assert.match(d.hint, /integrity key/);
  assert.doesNotMatch(d.message, /verify with a \d+-bit ICV/);
  assert.deepEqual(
    events.map((e) => e.kind),
    ["integrity-key-mismatch"],
  );
  // A wrong key with a 96-bit peer is still a key mismatch (nothing verifies), never a truncation.
  inbound(dp, 0x6002, "null-sha1", new Uint8Array(0), integ("sha1", 1));
  dp.decapsulateBatch(
    refPackets(
      { spi: 0x6002, suite: "null", key: new Uint8Array(0), integKey: integ("sha1", 9), hash: "sha1", icv: 16 },
      1n,
      3,
    ),
  );
  const s = det.diagnostics().find((x) => x.spi === 0x6002)!;
  assert.equal(s.kind, "integrity-key-mismatch");
  assert.match(s.message, /none verify at 96\/128 bits/);
  assert.ok(events.every((e) => e.kind === "integrity-key-mismatch"));
});

test("damaged packets among good ones: no diagnostic, no event", async () => {
  const { dp, det, events, logs } = await rig({ maxProbesPerSecond: 100 });
  const ik = integ("sha256", 4);
  const h = inbound(dp, 0x7001, "aes128-sha256", AES128, ik);
  const good = refPackets({ spi: 0x7001, suite: "cbc", key: AES128, integKey: ik, hash: "sha256", icv: 16 }, 1n, 12);
  const damaged = good.map((p, i) => {
    const c = p.slice();
    c[30 + i]! ^= 0x40;
    return c;
  });
  // One damaged packet first: below the 3 samples a key-mismatch claim needs.
  dp.decapsulateBatch([damaged[0]!, good[1]!, good[2]!]);
  assert.deepEqual(det.diagnostics(), []);
  // More damage once good packets proved the key: still corruption, not configuration.
  dp.decapsulateBatch([damaged[3]!, good[4]!, damaged[5]!, damaged[6]!, good[7]!, damaged[8]!]);
  assert.equal(dp.stats(h).drops["integrity-failed"], 5n);
  assert.equal(det.probes, 5);
  assert.deepEqual(det.diagnostics(), []);
  assert.equal(events.length, 0);
  assert.equal(logs.length, 0);
});

test("AES-GCM SA with failures: nothing probed, nothing claimed (AEAD has no truncation to try)", async () => {
  const { dp, det, events } = await rig();
  const salt = bytes(4, 8);
  inbound(dp, 0x8001, "aes128gcm16", new Uint8Array([...AES128, ...salt]));
  inbound(dp, 0x8002, "aes128gcm8", new Uint8Array([...AES128, ...salt]));
  const p16 = refPackets({ spi: 0x8001, suite: "gcm", key: AES128, salt: bytes(4, 9), icv: 16 }, 1n, 6); // wrong salt
  const p8 = refPackets({ spi: 0x8002, suite: "gcm", key: AES128, salt, icv: 16 }, 1n, 6); // 128-bit tag into a 64-bit SA
  const r = dp.decapsulateBatch([...p16, ...p8]);
  assert.ok(
    r.every((x) => x.status === "integrity-failed"),
    JSON.stringify(r.map((x) => x.status)),
  );
  assert.equal(det.probes, 0);
  assert.deepEqual(det.diagnostics(), []);
  assert.equal(events.length, 0);
});

test("rate limit: at most maxProbesPerSecond per SA per second, every n-th failure sampled, global cap", async () => {
  const { dp, det, clock } = await rig({ maxProbesPerSecond: 3, sampleEvery: 5, maxTotalProbesPerSecond: 10 });
  const calls: number[] = [];
  const real = dp.icvProbe.bind(dp);
  dp.icvProbe = (i: number) => {
    calls.push(i);
    return real(i);
  };
  const ik = integ("sha256", 6);
  inbound(dp, 0x9000, "null-sha256", new Uint8Array(0), ik);
  const flood = refPackets(
    { spi: 0x9000, suite: "null", key: new Uint8Array(0), integKey: ik, hash: "sha256", icv: 12 },
    1n,
    60,
  );
  dp.decapsulateBatch(flood);
  // 60 failures, every 5th sampled (indices 0, 5, 10, ...), 3 per second.
  assert.deepEqual(calls, [0, 5, 10]);
  assert.equal(det.probes, 3);
  clock.t += 999;
  dp.decapsulateBatch(flood.slice(0, 20));
  assert.equal(det.probes, 3, "still the same second");
  clock.t += 1;
  dp.decapsulateBatch(flood.slice(0, 20));
  assert.equal(det.probes, 6);
  assert.equal(only(det).failures, 100);
  // 20 SAs failing at once: the global cap of 10 per second holds.
  const many: Uint8Array[] = [];
  for (let k = 1; k <= 20; k++) {
    inbound(dp, 0x9000 + k, "null-sha256", new Uint8Array(0), ik);
    many.push(
      ...refPackets(
        { spi: 0x9000 + k, suite: "null", key: new Uint8Array(0), integKey: ik, hash: "sha256", icv: 12 },
        1n,
        3,
      ),
    );
  }
  clock.t += 1000;
  calls.length = 0;
  dp.decapsulateBatch(many);
  assert.equal(calls.length, 10);
  assert.equal(det.probes, 16);
});

test("probing changes no replay window, counter or packet byte", async () => {
  const dp = await Dataplane.create({ maxSas: 8, batchSize: 16 });
  const ik = integ("sha256", 2);
  const h = inbound(dp, 0xa001, "aes128-sha256-esn", AES128, ik, { seq: (3n << 32n) + 100n, replayWindow: 128 });
  const peer: RefSa = { spi: 0xa001, suite: "cbc", key: AES128, integKey: ik, hash: "sha256", icv: 16, esn: true };
  dp.decapsulateBatch(refPackets(peer, (3n << 32n) + 90n, 3)); // fills a few window bits
  const before = { replay: dp.replayState(h), stats: dp.stats(h), global: dp.globalStats() };
  const bad = [
    ...refPackets({ ...peer, icv: 12 }, (3n << 32n) + 101n, 2),
    ...refPackets({ ...peer, icv: 32 }, (3n << 32n) + 200n, 2),
    ...refPackets({ ...peer, suite: "cbc" }, (3n << 32n) + 300n, 1).map((p) => {
      const c = p.slice();
      c[40]! ^= 1;
      return c;
    }),
    // Right MAC, last ICV byte wrong: every byte of the candidate ICV counts.
    ...refPackets({ ...peer, icv: 32 }, (3n << 32n) + 400n, 1).map((p) => {
      const c = p.slice();
      c[c.length - 1]! ^= 0x80;
      return c;
    }),
    ...refPackets({ ...peer, icv: 12 }, (3n << 32n) + 401n, 1).map((p) => {
      const c = p.slice();
      c[c.length - 1]! ^= 0x01;
      return c;
    }),
  ];
  const masks: number[][][] = [];
  let arena: Uint8Array[] = [];
  const stop = dp.observeDecapsulation((b) => {
    const once = Array.from({ length: b.length }, (_, i) => dp.icvProbe(i));
    const mid = { replay: dp.replayState(h), stats: dp.stats(h) };
    for (let k = 0; k < 50; k++) for (let i = 0; i < b.length; i++) assert.deepEqual(dp.icvProbe(i), once[i]);
    assert.deepEqual({ replay: dp.replayState(h), stats: dp.stats(h) }, mid);
    masks.push(once);
    arena = Array.from({ length: b.length }, (_, i) => b.output(i).slice());
  });
  const r = dp.decapsulateBatch(bad);
  stop();
  assert.deepEqual(masks, [[[12], [12], [32], [32], [], [], []]]);
  assert.deepEqual(
    r.map((x) => x.status),
    Array(7).fill("integrity-failed"),
  );
  assert.ok(
    arena.every((o) => o.length === 0),
    "no plaintext of a failed packet",
  );
  const after = { replay: dp.replayState(h), stats: dp.stats(h), global: dp.globalStats() };
  assert.deepEqual(after.replay, before.replay);
  assert.equal(after.stats.seq, before.stats.seq);
  assert.equal(after.stats.packets, before.stats.packets);
  // Only decap's own drop counters moved (7 integrity-failed), nothing from the 350 probes.
  assert.equal(after.stats.drops.truncated - before.stats.drops.truncated, 0n);
  assert.equal(after.stats.drops["integrity-failed"] - before.stats.drops["integrity-failed"], 7n);
  assert.equal(after.global.byStatus.ok, before.global.byStatus.ok);
  // Those packets still verify at their real length afterwards: the probe left the window alone.
  const again = dp.decapsulateBatch(refPackets(peer, (3n << 32n) + 101n, 1));
  assert.equal(again[0]!.status, "ok");
});

test("icvProbe on packets it must not judge: ok, no-sa, replay, out-of-range index", async () => {
  const dp = await Dataplane.create({ maxSas: 8, batchSize: 8 });
  const ik = integ("sha256", 1);
  inbound(dp, 0xb001, "null-sha256", new Uint8Array(0), ik);
  const peer: RefSa = { spi: 0xb001, suite: "null", key: new Uint8Array(0), integKey: ik, hash: "sha256", icv: 16 };
  const [p1] = refPackets(peer, 1n, 1);
  const other = refPackets({ ...peer, spi: 0xb002, icv: 12 }, 1n, 1)[0];
  let seen: number[][] = [];
  dp.observeDecapsulation(() => {
    seen = [-1, 0, 1, 2, 3, 8, 1 << 30].map((i) => dp.icvProbe(i));
  });
  dp.decapsulateBatch([p1!, other!, p1!]);
  assert.deepEqual(seen, [[], [], [], [], [], [], []]);
});

test("events: raised once, updated at most every repeatEveryMs while failures continue; forgotten after forgetAfterMs or SA removal", async () => {
  const { dp, det, events, clock } = await rig({ repeatEveryMs: 60_000, forgetAfterMs: 300_000 });
  const ik = integ("sha256", 12);
  const h = inbound(dp, 0xc001, "null-sha256", new Uint8Array(0), ik);
  const peer: RefSa = { spi: 0xc001, suite: "null", key: new Uint8Array(0), integKey: ik, hash: "sha256", icv: 12 };
  const pk = refPackets(peer, 1n, 10);
  dp.decapsulateBatch(pk.slice(0, 2));
  clock.t += 30_000;
  dp.decapsulateBatch(pk.slice(2, 4));
  assert.deepEqual(
    events.map((e) => e.failures),
    [2],
  );
  clock.t += 30_000;
  dp.decapsulateBatch(pk.slice(4, 5));
  assert.deepEqual(
    events.map((e) => e.failures),
    [2, 5],
  );
  assert.match(events[1]!.message, /: 5 integrity failures;/);
  clock.t += 299_999;
  assert.equal(det.diagnostics().length, 1);
  clock.t += 1;
  assert.deepEqual(det.diagnostics(), []);
  dp.decapsulateBatch(pk.slice(5, 6));
  assert.equal(det.diagnostics().length, 1);
  dp.removeSa(h);
  assert.deepEqual(det.diagnostics(), []);
  // A new SA in the same slot starts from nothing.
  const h2 = inbound(dp, 0xc001, "null-sha256", new Uint8Array(0), ik);
  assert.equal(h2, h);
  dp.decapsulateBatch(refPackets({ ...peer, icv: 16 }, 1n, 2));
  assert.deepEqual(det.diagnostics(), []);
  det.detach();
  dp.decapsulateBatch(pk.slice(6, 8));
  assert.deepEqual(det.diagnostics(), []);
});
