// Seed 000 end to end against the real Linux kernel. The peer is Debian's kernel under QEMU
// (test/helpers/kernel-vm.ts), its XFRM doing tunnel-mode ESP in UDP with our Dataplane on a host
// socket. The outage: the kernel configured with `auth 'hmac(sha256)'` (96-bit ICV, xfrm_algo.c's
// default), our side with RFC 4868's `aes128-sha256` (128 bits): the tunnel is "up" and nothing
// flows either way. The test checks what both sides count (ours, `ip -s xfrm state`,
// /proc/net/xfrm_stat), that our IcvTruncationDetector names the truncation and the keyword to set,
// that applying that keyword makes traffic flow both ways, the reverse case, and that AES-GCM gets
// no truncation diagnostic, whether its keys match or not.
//
//   guest 203.0.113.1 (lo) --XFRM, ESP in UDP--> 198.18.0.2:P == host 127.0.0.1:P (EspUdpEndpoint)
//   host  198.51.100.1 (inner) --Dataplane ESP--> 127.0.0.1:F == QEMU forward to guest :4500 (espudp)
//
// One VM boot serves every test; the guest's policies stay, its SAs are replaced per scenario.
// Needs QEMU and the kernel image (`bash test/interop/kernel/build.sh`): fails, never skips, without.
import { after, before, test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import type { DecapResult, SaHandle, SaStats } from "../../sdk/dataplane/types.ts";
import { IcvTruncationDetector } from "../../sdk/diag/icv-truncation.ts";
import type { Diagnostic } from "../../sdk/diag/icv-truncation.ts";
import { EspUdpEndpoint } from "../../sdk/node/esp-udp.ts";
import { inetChecksum } from "../../sdk/packet/icmp.ts";
import { buildPacket, concat, hex, ipBytes } from "../helpers/interop.ts";
import { GUEST_ADDR, HOST_ADDR_IN_GUEST, KernelVm } from "../helpers/kernel-vm.ts";
import type { XfrmState } from "../helpers/kernel-vm.ts";

const GUEST_INNER = "203.0.113.1";
const HOST_INNER = "198.51.100.1";
/** Guest udpio listens here for our inner datagrams; the guest sends to HOST_INNER:9 from :7001. */
const GUEST_UDP_PORT = 7000;
/** Packets per direction per step: more than the detector's 3-sample minimum, small for TCG. */
const N = 6;

// Fixed test keys, not secrets. g2h = guest -> host SA, h2g = host -> guest SA.
const range = (from: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => from + i);
const ENC = { g2h: range(0x40, 16), h2g: range(0x50, 16) };
const AUTH = { g2h: range(0x60, 32), h2g: range(0x80, 32) };
/** rfc4106(gcm(aes)) keys as `ip xfrm` takes them: 16-byte AES key then the 4-byte salt. */
const GCM = { g2h: range(0x00, 20), h2g: range(0x20, 20) };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const text = new TextEncoder();

let vm: KernelVm;

before(async () => {
  vm = await KernelVm.boot();
  // Policies first, route second: a datagram for the peer's inner prefix never leaves in clear
  // (without an SA the kernel drops it, XfrmOutNoStates).
  await vm.sh(`
ip addr add ${GUEST_INNER}/32 dev lo
ip xfrm policy add dir out src ${GUEST_INNER}/32 dst 198.51.100.0/24 tmpl src ${GUEST_ADDR} dst ${HOST_ADDR_IN_GUEST} proto esp reqid 1 mode tunnel
ip xfrm policy add dir in src 198.51.100.0/24 dst ${GUEST_INNER}/32 tmpl src ${HOST_ADDR_IN_GUEST} dst ${GUEST_ADDR} proto esp reqid 1 mode tunnel
ip route add 198.51.100.0/24 via ${HOST_ADDR_IN_GUEST} dev eth0 src ${GUEST_INNER}`);
});

after(async () => {
  if (vm) await vm.stop();
});

/** Our side of one scenario: a Dataplane with its detector, on a UDP socket the guest's SAs point at. */
class Host {
  readonly raised: Diagnostic[] = [];
  inSa: SaHandle = -1;
  outSa: SaHandle = -1;

  private constructor(
    readonly dp: Dataplane,
    readonly ep: EspUdpEndpoint,
    readonly detector: IcvTruncationDetector,
    /** Every ESP datagram our socket decapsulated, with its sender. */
    readonly received: { r: DecapResult; from: string }[],
    /** The detector's log lines. */
    readonly log: string[],
  ) {
    detector.on((d) => this.raised.push(d));
  }

  static async create(): Promise<Host> {
    const dp = await Dataplane.create({ maxSas: 16, batchSize: 64 });
    const received: { r: DecapResult; from: string }[] = [];
    const ep = await EspUdpEndpoint.bind(dp, "127.0.0.1", 0, {
      onDecap: (rs, from) => rs.forEach((r, i) => received.push({ r, from: `${from[i]!.address}:${from[i]!.port}` })),
    });
    const log: string[] = [];
    return new Host(dp, ep, new IcvTruncationDetector(dp, { log: (l) => log.push(l) }), received, log);
  }

  /**
   * (Re)installs our two SAs with `esp`: g2h keys for our inbound SA, h2g for our outbound one. A
   * replaced outbound SA keeps its sequence number: the guest's SA (same SPI) has accepted those
   * numbers already and would drop them again as replays.
   */
  install(esp: string, spis: Spis, keys: { g2h: Keys; h2g: Keys }): void {
    const seq = this.outSa >= 0 ? this.dp.stats(this.outSa).seq : 0n;
    if (this.inSa >= 0) this.dp.removeSa(this.inSa);
    if (this.outSa >= 0) this.dp.removeSa(this.outSa);
    this.inSa = this.dp.addSa({ spi: spis.g2h, direction: "in", mode: "tunnel", esp, replayWindow: 32, ...keys.g2h });
    this.outSa = this.dp.addSa({ spi: spis.h2g, direction: "out", mode: "tunnel", esp, seq, ...keys.h2g });
  }

  async close(): Promise<void> {
    this.detector.detach();
    await this.ep.close();
  }
}

interface Spis {
  g2h: number;
  h2g: number;
}
interface Keys {
  encKey: Uint8Array;
  integKey?: Uint8Array;
}

const cbcKeys = { g2h: { encKey: ENC.g2h, integKey: AUTH.g2h }, h2g: { encKey: ENC.h2g, integKey: AUTH.h2g } };
const gcmKeys = { g2h: { encKey: GCM.g2h }, h2g: { encKey: GCM.h2g } };

/** Replaces the guest's SAs: `alg` gives the `ip xfrm state` algorithm clause per direction. */
async function guestSas(host: Host, spis: Spis, alg: (dir: "g2h" | "h2g") => string): Promise<void> {
  const P = host.ep.port;
  await vm.sh(`
ip xfrm state flush
ip xfrm state add src ${GUEST_ADDR} dst ${HOST_ADDR_IN_GUEST} proto esp spi ${spis.g2h} reqid 1 mode tunnel replay-window 32 ${alg("g2h")} encap espinudp 4500 ${P} 0.0.0.0
ip xfrm state add src ${HOST_ADDR_IN_GUEST} dst ${GUEST_ADDR} proto esp spi ${spis.h2g} reqid 1 mode tunnel replay-window 32 ${alg("h2g")} encap espinudp ${P} 4500 0.0.0.0`);
}

const cbcHmac =
  (trunc?: number) =>
  (dir: "g2h" | "h2g"): string =>
    `enc 'cbc(aes)' 0x${hex(ENC[dir])} ` +
    (trunc === undefined
      ? `auth 'hmac(sha256)' 0x${hex(AUTH[dir])}`
      : `auth-trunc 'hmac(sha256)' 0x${hex(AUTH[dir])} ${trunc}`);
const gcm = (dir: "g2h" | "h2g"): string => `aead 'rfc4106(gcm(aes))' 0x${hex(GCM[dir])} 128`;

async function guestState(spi: number): Promise<XfrmState> {
  const s = (await vm.xfrmStates()).find((x) => x.spi === spi);
  assert.ok(s, `guest has no SA with SPI 0x${spi.toString(16)}`);
  return s;
}

/** The guest sends `n` inner UDP datagrams to HOST_INNER:9; returns what our socket decapsulated. */
async function guestSends(host: Host, tag: string, n = N): Promise<{ r: DecapResult; from: string }[]> {
  const start = host.received.length;
  await vm.sh(
    `i=1; while [ $i -le ${n} ]; do udpio send -s ${GUEST_INNER} -p 7001 ${HOST_INNER} 9 "${tag} $i" || exit 1; i=$((i + 1)); done`,
  );
  for (let i = 0; i < 200 && host.received.length - start < n; i++) await sleep(50);
  const got = host.received.slice(start);
  assert.equal(got.length, n, `${n} ESP packets from the guest expected at our socket, got ${got.length}`);
  for (const g of got)
    assert.equal(
      g.from,
      `127.0.0.1:${vm.udpForwardPort}`,
      "the guest's ESP comes from QEMU's forward port (a NAT-T flow)",
    );
  return got;
}

/**
 * We send `n` inner UDP datagrams through our outbound SA to the guest's udpio on GUEST_UDP_PORT.
 * Waits until the guest's inbound SA has processed all of them (delivered or failed), then returns
 * the payloads the guest's socket received and the SA's counters.
 */
async function hostSends(
  host: Host,
  tag: string,
  spi: number,
  n = N,
): Promise<{ delivered: string[]; state: XfrmState }> {
  const base = await guestState(spi);
  // A receiver left over from a failed step would share the port (SO_REUSEADDR) and take our datagrams.
  await vm.sh(`[ -f /tmp/recv.pid ] && kill $(cat /tmp/recv.pid) 2>/dev/null
udpio recv -s ${GUEST_INNER} -p ${GUEST_UDP_PORT} -n ${n} -t 60 > /tmp/recv.txt 2>&1 &
echo $! > /tmp/recv.pid
i=0; while ! grep -q listening /tmp/recv.txt && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
grep -q listening /tmp/recv.txt`);
  const inners = Array.from({ length: n }, (_, k) =>
    buildPacket({
      v6: false,
      src: HOST_INNER,
      dst: GUEST_INNER,
      l4: "udp",
      id: 5555,
      seq: 0,
      dport: GUEST_UDP_PORT,
      payload: text.encode(`${tag} ${k + 1}`),
    }),
  );
  assert.equal(
    host.ep.send(host.outSa, inners, "127.0.0.1", vm.udpForwardPort),
    n,
    "our dataplane encapsulated every packet",
  );
  let state = base;
  for (let i = 0; i < 40; i++) {
    state = await guestState(spi);
    if (state.packets + state.failed - base.packets - base.failed >= n) break;
    await sleep(250);
  }
  if (state.packets + state.failed - base.packets - base.failed !== n) {
    const why = await vm.exec(
      "awk '$2 != 0' /proc/net/xfrm_stat; nstat -az | awk '$2 != 0'; ss -uapn; ip -s xfrm state",
    );
    assert.fail(
      `the guest's inbound SA processed ${state.packets + state.failed - base.packets - base.failed} of ${n} packets; guest:\n${why.out}`,
    );
  }
  const out = await vm.sh("sleep 0.3; kill $(cat /tmp/recv.pid) 2>/dev/null; cat /tmp/recv.txt");
  const delivered = [...out.matchAll(/^recv from (\S+) len \d+ text (.*) hex [0-9a-f]*$/gm)].map((m) => {
    assert.equal(m[1], `${HOST_INNER}:5555`, "the guest's socket sees our inner source");
    return m[2]!;
  });
  return { delivered: delivered, state };
}

/** Checks a decapsulated inner packet as the kernel built it (both checksums) and returns its UDP payload text. */
function innerUdpText(p: Uint8Array): string {
  assert.equal(p[0], 0x45, "inner IPv4 without options");
  assert.equal(inetChecksum(p, 0, 20), 0, "inner IPv4 header checksum");
  assert.equal(p[9], 17, "inner protocol UDP");
  assert.deepEqual([...p.subarray(12, 16)], [...ipBytes(GUEST_INNER)]);
  assert.deepEqual([...p.subarray(16, 20)], [...ipBytes(HOST_INNER)]);
  const total = (p[2]! << 8) | p[3]!;
  assert.equal(total, p.length, "inner total length");
  const udp = p.subarray(20, total);
  assert.equal((udp[2]! << 8) | udp[3]!, 9, "inner UDP destination port");
  const pseudo = concat(p.subarray(12, 20), Uint8Array.of(0, 17, udp.length >> 8, udp.length & 255), udp);
  assert.equal(inetChecksum(pseudo), 0, "inner UDP checksum");
  return new TextDecoder().decode(udp.subarray(8));
}

const tags = (tag: string, n = N): string[] => Array.from({ length: n }, (_, k) => `${tag} ${k + 1}`);

/** The keyword the diagnostic tells us to set on our side ("set `aes128-sha256_96` here ..."). */
function keywordToSet(d: Diagnostic): string {
  const m = /set `([a-z0-9_-]+)` here/.exec(d.hint);
  assert.ok(m, `the diagnostic names no keyword to set here: ${d.hint}`);
  assert.ok(d.message.includes(`\`${m[1]}\``), "the message names the same keyword");
  return m[1]!;
}

/** Shows the diagnostic in the test output, as an operator would read it. */
function report(t: TestContext, d: Diagnostic): void {
  t.diagnostic(`ipsec-wasm: ${d.message}`);
}

/** Our inbound SA's drop counters after each mismatch scenario, for the classification test at the end. */
const mismatchDrops = new Map<string, SaStats["drops"]>();

/** Traffic both ways must fail on a truncation mismatch; returns the diagnostic our side raised. */
async function mismatchFails(host: Host, spis: Spis, tag: string): Promise<Diagnostic> {
  const stat0 = await vm.xfrmStat();
  // guest -> us: every packet dropped, none delivered
  const g2h = await guestSends(host, `${tag} g2h`);
  for (const { r } of g2h) {
    assert.notEqual(r.status, "ok");
    assert.equal(r.payload, undefined, "no plaintext of a packet that failed");
  }
  const ours = host.dp.stats(host.inSa);
  assert.equal(ours.packets, 0n, "our inbound ok counter stays 0");
  assert.equal(
    ours.drops["integrity-failed"] + ours.drops.truncated,
    BigInt(N),
    "our inbound SA counted every packet as dropped",
  );
  mismatchDrops.set(tag, ours.drops);
  // us -> guest: the kernel counts integrity failures and delivers nothing
  const h2g = await hostSends(host, `${tag} h2g`, spis.h2g);
  assert.deepEqual(h2g.delivered, [], "the guest's socket got nothing");
  assert.equal(h2g.state.packets, 0, "guest inbound SA: 0 packets accepted");
  assert.equal(h2g.state.failed, N, "guest `ip -s xfrm state`: failed");
  const stat1 = await vm.xfrmStat();
  assert.equal(
    stat1.XfrmInStateProtoError! - stat0.XfrmInStateProtoError!,
    N,
    "guest /proc/net/xfrm_stat XfrmInStateProtoError",
  );

  const ds = host.detector.diagnostics();
  assert.equal(ds.length, 1, `one diagnostic expected, got ${JSON.stringify(ds)}`);
  assert.ok(host.raised.length >= 1, "the diagnostic was raised as an event too");
  assert.equal(host.log.length, host.raised.length, "each raised diagnostic was logged once");
  return ds[0]!;
}

/** After the fix both directions deliver: our payloads in the guest's socket, the guest's in ours. */
async function flowsBothWays(host: Host, spis: Spis, tag: string, guestFailedBefore: number): Promise<void> {
  const g2h = await guestSends(host, `${tag} g2h`);
  assert.deepEqual(
    g2h.map(({ r }) => r.status),
    Array<string>(N).fill("ok"),
  );
  assert.deepEqual(
    g2h.map(({ r }) => innerUdpText(r.payload ?? new Uint8Array(0))),
    tags(`${tag} g2h`),
  );
  const ours = host.dp.stats(host.inSa);
  assert.equal(ours.packets, BigInt(N));
  assert.equal(ours.drops["integrity-failed"] + ours.drops.truncated, 0n);
  const h2g = await hostSends(host, `${tag} h2g`, spis.h2g);
  assert.deepEqual(h2g.delivered, tags(`${tag} h2g`), "the guest's socket received our datagrams, in order");
  assert.equal(h2g.state.packets, N, "guest inbound SA: packets accepted");
  assert.equal(h2g.state.failed, guestFailedBefore, "guest inbound SA: no new failures");
  assert.deepEqual(host.detector.diagnostics(), [], "no diagnostic once traffic flows");
}

test("seed 000: kernel `auth hmac(sha256)` (96-bit) vs our aes128-sha256 (128-bit) fails both ways; the diagnostic's fix makes it flow", async (t) => {
  const spis = { g2h: 0xa0000001, h2g: 0xb0000001 };
  const host = await Host.create();
  try {
    await guestSas(host, spis, cbcHmac());
    // The kernel's own account of `auth hmac(sha256)`: a 96-bit truncation.
    for (const spi of [spis.g2h, spis.h2g]) {
      const s = await guestState(spi);
      assert.deepEqual(
        s.auth,
        { name: "hmac(sha256)", bits: 96 },
        "`ip xfrm state` shows auth-trunc hmac(sha256) ... 96",
      );
      assert.equal(s.enc, "cbc(aes)");
    }
    host.install("aes128-sha256", spis, cbcKeys);
    assert.equal(host.dp.stats(host.inSa).icvLength, 16);

    const d = await mismatchFails(host, spis, "seed000");
    report(t, d);
    assert.equal(d.kind, "icv-truncation");
    assert.equal(d.spi, spis.g2h);
    assert.equal(d.sa, host.inSa);
    assert.equal(d.suite, "aes128-sha256");
    assert.equal(d.configuredIcvBits, 128);
    assert.equal(d.peerIcvBits, 96);
    assert.equal(d.failures, N);
    assert.ok(
      d.matched >= 1 && d.matched === d.probed,
      `every probed packet verified at 96 bits (${d.matched}/${d.probed})`,
    );
    assert.match(d.message, /96-bit ICV/);
    assert.match(d.message, /auth hmac\(sha256\)/, "the message names the kernel setting the peer uses");
    const fix = keywordToSet(d);
    assert.equal(fix, "aes128-sha256_96");

    host.install(fix, spis, cbcKeys);
    assert.equal(host.dp.stats(host.inSa).icvLength, 12);
    await flowsBothWays(host, spis, "seed000-fixed", N);
  } finally {
    await host.close();
  }
});

test("reverse: kernel `auth-trunc hmac(sha256) 128` vs our aes128-sha256_96 fails both ways; the diagnostic's fix makes it flow", async (t) => {
  const spis = { g2h: 0xa0000002, h2g: 0xb0000002 };
  const host = await Host.create();
  try {
    await guestSas(host, spis, cbcHmac(128));
    for (const spi of [spis.g2h, spis.h2g]) {
      assert.deepEqual((await guestState(spi)).auth, { name: "hmac(sha256)", bits: 128 });
    }
    host.install("aes128-sha256_96", spis, cbcKeys);

    const d = await mismatchFails(host, spis, "reverse");
    report(t, d);
    assert.equal(d.kind, "icv-truncation");
    assert.equal(d.spi, spis.g2h);
    assert.equal(d.suite, "aes128-sha256_96");
    assert.equal(d.configuredIcvBits, 96);
    assert.equal(d.peerIcvBits, 128);
    assert.equal(d.failures, N);
    assert.match(d.message, /128-bit ICV/);
    const fix = keywordToSet(d);
    assert.equal(fix, "aes128-sha256");

    host.install(fix, spis, cbcKeys);
    assert.equal(host.dp.stats(host.inSa).icvLength, 16);
    await flowsBothWays(host, spis, "reverse-fixed", N);
  } finally {
    await host.close();
  }
});

test("AES-GCM (rfc4106) with the kernel: matching keys flow with no diagnostic; a wrong key fails both ways with no truncation diagnostic", async () => {
  const spis = { g2h: 0xa0000003, h2g: 0xb0000003 };
  const host = await Host.create();
  try {
    await guestSas(host, spis, gcm);
    for (const spi of [spis.g2h, spis.h2g]) {
      assert.deepEqual((await guestState(spi)).aead, { name: "rfc4106(gcm(aes))", bits: 128 });
    }
    host.install("aes128gcm16", spis, gcmKeys);
    await flowsBothWays(host, spis, "gcm", 0);
    assert.deepEqual(host.raised, [], "no diagnostic event at all");

    // One byte of our AES keys wrong (salts right): both directions fail their GCM tag.
    const wrong = (k: Uint8Array): Keys => ({ encKey: k.map((b, i) => (i === 0 ? b ^ 0x01 : b)) });
    host.install("aes128gcm16", spis, { g2h: wrong(GCM.g2h), h2g: wrong(GCM.h2g) });
    const stat0 = await vm.xfrmStat();
    const g2h = await guestSends(host, "gcm-wrong-key g2h");
    assert.deepEqual(
      g2h.map(({ r }) => r.status),
      Array<string>(N).fill("integrity-failed"),
    );
    assert.ok(
      g2h.every(({ r }) => r.payload === undefined),
      "no plaintext of a packet that failed",
    );
    const ours = host.dp.stats(host.inSa);
    assert.equal(ours.packets, 0n);
    assert.equal(ours.drops["integrity-failed"], BigInt(N));
    const guestFailedBefore = (await guestState(spis.h2g)).failed;
    const h2g = await hostSends(host, "gcm-wrong-key h2g", spis.h2g);
    assert.deepEqual(h2g.delivered, []);
    assert.equal(h2g.state.failed - guestFailedBefore, N, "guest `ip -s xfrm state`: failed");
    const stat1 = await vm.xfrmStat();
    assert.equal(stat1.XfrmInStateProtoError! - stat0.XfrmInStateProtoError!, N);

    const all = [...host.raised, ...host.detector.diagnostics()];
    assert.deepEqual(
      all.filter((d) => d.kind === "icv-truncation"),
      [],
      "AEAD: no ICV-truncation diagnostic",
    );
    assert.ok(
      all.every((d) => d.kind === "integrity-key-mismatch" && d.spi === spis.g2h),
      JSON.stringify(all),
    );
  } finally {
    await host.close();
  }
});

// The kernel counts a packet whose ICV has the wrong length as an integrity failure (`failed` in
// `ip -s xfrm state`, XfrmInStateProtoError): authenc verifies the ICV before CBC decryption ever
// looks at block alignment, the order of RFC 4303 §3.4.4.1. Our per-SA counters are meant to read
// like the kernel's, so the same packets must land in our integrity-failed counter, not elsewhere.
test("our inbound counters classify the mismatched ICVs as integrity failures, as the kernel does", () => {
  assert.deepEqual([...mismatchDrops.keys()], ["seed000", "reverse"], "the two mismatch scenarios ran");
  for (const [tag, drops] of mismatchDrops) {
    const nonZero = Object.fromEntries(
      Object.entries(drops)
        .filter(([, v]) => v !== 0n)
        .map(([k, v]) => [k, Number(v)]),
    );
    assert.deepEqual(nonZero, { "integrity-failed": N }, `${tag}: our inbound SA's drop counters`);
  }
});
