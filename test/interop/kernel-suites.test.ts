// The issue-4 ESP suites, and every AES-CCM row of the suite registry (RFC 4309, kernel
// rfc4309(ccm(aes)) with the row's ICV bits), against the real Linux kernel: Debian's kernel under QEMU
// (test/helpers/kernel-vm.ts), its XFRM doing tunnel-mode ESP in UDP with our Dataplane on a host
// socket. strongSwan's kernel-libipsec has neither AES-GMAC nor ESN, so the kernel is the live peer
// for those. Per suite, both directions:
//   kernel -> us: N inner UDP datagrams from the guest's udpio decapsulate to exactly the bytes the
//     guest's stack built (payloads ours, IP ID and DF taken from the packet, lengths and checksums
//     recomputed); our inbound SA comes from parseXfrmState on the guest's own `ip xfrm state`
//     output, so the kernel's algorithm names are mapped by the code `pcap decrypt --xfrm` uses;
//   us -> kernel: N datagrams reach the guest's udpio with our payloads, and `ip -s xfrm state`
//     shows N packets, failed 0 on its inbound SA; then one packet with a flipped byte is counted
//     as failed and as XfrmInStateProtoError, and is not delivered.
// ESN variants (`flag esn`, `replay-window 128`; our SaConfig `esn: true`) start both directions at
// sequence 0xfffffffd (kernel `replay-oseq` / `replay-seq`), so the N packets cross 2^32 and the
// high half, which is never on the wire but in every ICV, really changes.
//
//   guest 203.0.113.1 (lo) --XFRM, ESP in UDP--> 198.18.0.2:P == host 127.0.0.1:P (EspUdpEndpoint)
//   host  198.51.100.1 (inner) --Dataplane ESP--> 127.0.0.1:F == QEMU forward to guest :4500 (espudp)
//
// One VM boot serves every suite; the guest's policies stay, its SAs are replaced per suite.
// Needs QEMU and the kernel image (`bash test/interop/kernel/build.sh`): fails, never skips, without.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { parseSuite } from "../../sdk/dataplane/suites.ts";
import { CIPHERS } from "../../sdk/dataplane/suite-registry.ts";
import type { DecapResult, SaConfig, SaHandle } from "../../sdk/dataplane/types.ts";
import { EspUdpEndpoint } from "../../sdk/node/esp-udp.ts";
import { inetChecksum } from "../../sdk/packet/icmp.ts";
import { parseXfrmState } from "../../sdk/sa/files.ts";
import { buildPacket, hex } from "../helpers/interop.ts";
import { GUEST_ADDR, HOST_ADDR_IN_GUEST, KernelVm, parseXfrmStat, parseXfrmStates } from "../helpers/kernel-vm.ts";
import type { XfrmState } from "../helpers/kernel-vm.ts";

const GUEST_INNER = "203.0.113.1";
const HOST_INNER = "198.51.100.1";
/** The guest's udpio listens here for our inner datagrams; the guest sends to HOST_INNER:9 from :7001. */
const GUEST_UDP_PORT = 7000;
/** Packets per direction per suite; with ESN, 0xfffffffe, 0xffffffff, then three above 2^32. */
const N = 5;
/** ESN suites: the last sequence number already used on both SAs. */
const ESN_START = 0xfffffffdn;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const text = new TextEncoder();
/** Deterministic test keys (not secrets): `n` bytes counting up from `from`. */
const range = (from: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

/** A suite as both sides spell it: our keyword, key lengths, and the kernel's algorithm clause. */
interface Suite {
  esp: string;
  esn: boolean;
  encBytes: number;
  integBytes: number;
  /** `ip xfrm state add` algorithm clause for these keys. */
  kernel: (enc: string, integ: string) => string;
}

const ctr = (enc: number, hash: string, integ: number, bits: number) => ({
  encBytes: enc,
  integBytes: integ,
  kernel: (e: string, i: string) => `enc 'rfc3686(ctr(aes))' 0x${e} auth-trunc 'hmac(${hash})' 0x${i} ${bits}`,
});
const cbc = (enc: number, hash: string, integ: number, bits: number) => ({
  encBytes: enc,
  integBytes: integ,
  kernel: (e: string, i: string) => `enc 'cbc(aes)' 0x${e} auth-trunc 'hmac(${hash})' 0x${i} ${bits}`,
});
const aead = (name: string, enc: number) => ({
  encBytes: enc,
  integBytes: 0,
  kernel: (e: string) => `aead '${name}' 0x${e} 128`,
});
const chacha = aead("rfc7539esp(chacha20,poly1305)", 36);

const SUITES: Suite[] = [
  { esp: "chacha20poly1305", esn: false, ...chacha },
  { esp: "aes128ctr-sha256", esn: false, ...ctr(20, "sha256", 32, 128) },
  { esp: "aes256ctr-sha512", esn: false, ...ctr(36, "sha512", 64, 256) },
  { esp: "aes128gmac", esn: false, ...aead("rfc4543(gcm(aes))", 20) },
  { esp: "aes256gmac", esn: false, ...aead("rfc4543(gcm(aes))", 36) },
  { esp: "aes256-sha384", esn: false, ...cbc(32, "sha384", 48, 192) },
  { esp: "aes256-sha512", esn: false, ...cbc(32, "sha512", 64, 256) },
  { esp: "chacha20poly1305", esn: true, ...chacha },
  { esp: "aes128ctr-sha256", esn: true, ...ctr(20, "sha256", 32, 128) },
  { esp: "aes128gmac", esn: true, ...aead("rfc4543(gcm(aes))", 20) },
  { esp: "aes128gcm16", esn: true, ...aead("rfc4106(gcm(aes))", 20) },
];
// AES-CCM: the registry's rows, with the kernel name and ICV the row states; one with ESN.
for (const r of CIPHERS.filter((c) => c.family === "aes-ccm")) {
  const name = "aead" in r.xfrm ? r.xfrm.aead : "";
  const ccm = {
    encBytes: r.keyBytes + r.saltBytes,
    integBytes: 0,
    kernel: (e: string) => `aead '${name}' 0x${e} ${r.icvBytes * 8}`,
  };
  SUITES.push({ esp: r.keyword, esn: false, ...ccm });
  if (r.keyword === "aes256ccm16") SUITES.push({ esp: r.keyword, esn: true, ...ccm });
}

let vm: KernelVm;
let dp: Dataplane;
let ep: EspUdpEndpoint;
/** Every ESP datagram our socket decapsulated, with its sender. */
const received: { r: DecapResult; from: string }[] = [];

before(async () => {
  vm = await KernelVm.boot();
  dp = await Dataplane.create({ maxSas: 8, batchSize: 64 });
  ep = await EspUdpEndpoint.bind(dp, "127.0.0.1", 0, {
    onDecap: (rs, from) => rs.forEach((r, i) => received.push({ r, from: `${from[i]!.address}:${from[i]!.port}` })),
  });
  // Policies first, route second: a datagram for the peer's inner prefix never leaves in clear.
  await vm.sh(`
ip addr add ${GUEST_INNER}/32 dev lo
ip xfrm policy add dir out src ${GUEST_INNER}/32 dst 198.51.100.0/24 tmpl src ${GUEST_ADDR} dst ${HOST_ADDR_IN_GUEST} proto esp reqid 1 mode tunnel
ip xfrm policy add dir in src 198.51.100.0/24 dst ${GUEST_INNER}/32 tmpl src ${HOST_ADDR_IN_GUEST} dst ${GUEST_ADDR} proto esp reqid 1 mode tunnel
ip route add 198.51.100.0/24 via ${HOST_ADDR_IN_GUEST} dev eth0 src ${GUEST_INNER}`);
});

after(async () => {
  if (ep) await ep.close();
  if (vm) await vm.stop();
});

/** Splits guest output printed as `@@name` sections. */
function sections(out: string): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const m of out.matchAll(/^@@(\w+)\n([\s\S]*?)(?=^@@\w+\n|(?![\s\S]))/gm)) parts[m[1]!] = m[2]!;
  return parts;
}

/** One parsed `ip -s xfrm state` block. */
function oneState(textOut: string, spi: number): XfrmState {
  const s = parseXfrmStates(textOut).find((x) => x.spi === spi);
  assert.ok(s, `no state with SPI 0x${spi.toString(16)} in:\n${textOut}`);
  return s;
}

/**
 * A guest shell snippet that waits (at most 10 s) until the inbound SA has processed `count`
 * packets, accepted or failed, then prints its `ip -s xfrm state`.
 */
function waitInbound(spi: number, count: number): string {
  const get = `ip -s xfrm state get src ${HOST_ADDR_IN_GUEST} dst ${GUEST_ADDR} proto esp spi ${spi}`;
  return `
seen() { ${get} | sed -n -e 's/^[[:space:]]*[0-9]*(bytes), \\([0-9]*\\)(packets)$/\\1/p' -e 's/.* failed \\([0-9]*\\)$/\\1/p' | awk '{ s += $1 } END { print s + 0 }'; }
i=0; while [ "$(seen)" -lt ${count} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo @@inbound; ${get}`;
}

/** The inner packet the guest's stack builds for `udpio send -s GUEST_INNER -p 7001 HOST_INNER 9 payload`, IP ID and flags taken from `got`. */
function guestInner(payload: string, got: Uint8Array): Uint8Array {
  const p = buildPacket({
    v6: false,
    src: GUEST_INNER,
    dst: HOST_INNER,
    l4: "udp",
    id: 7001,
    seq: 0,
    dport: 9,
    payload: text.encode(payload),
  });
  p.set(got.subarray(4, 8), 4); // identification, flags, fragment offset: the guest's choice
  p[10] = 0;
  p[11] = 0;
  const c = inetChecksum(p, 0, 20);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  return p;
}

const label = (s: Suite): string => `${s.esp}${s.esn ? " + ESN" : ""}`;

SUITES.forEach((s, idx) => {
  test(`kernel XFRM <-> our dataplane: ${label(s)} (${s.kernel("K", "K").replace(/0xK ?/g, "").replace(/\s+/g, " ")}${s.esn ? ", flag esn replay-window 128" : ""})`, async () => {
    const spis = { g2h: 0xc5000100 + idx, h2g: 0xd5000100 + idx };
    const keys = (dir: 0 | 1) => ({
      enc: range(0x10 + 0x40 * dir + idx, s.encBytes),
      integ: range(0x90 + 0x40 * dir + idx, s.integBytes),
    });
    const g2h = keys(0);
    const h2g = keys(1);
    const P = ep.port;
    const window = s.esn ? 128 : 32;
    const esnG2h = s.esn ? `flag esn replay-oseq 0x${ESN_START.toString(16)}` : "";
    const esnH2g = s.esn ? `flag esn replay-seq 0x${ESN_START.toString(16)}` : "";

    // 1. Guest SAs, a receiver for our datagrams, and the guest's own account of its outbound SA.
    const setup = sections(
      await vm.sh(`
[ -f /tmp/recv.pid ] && kill $(cat /tmp/recv.pid) 2>/dev/null
ip xfrm state flush
ip xfrm state add src ${GUEST_ADDR} dst ${HOST_ADDR_IN_GUEST} proto esp spi ${spis.g2h} reqid 1 mode tunnel replay-window ${window} ${esnG2h} ${s.kernel(hex(g2h.enc), hex(g2h.integ))} encap espinudp 4500 ${P} 0.0.0.0
ip xfrm state add src ${HOST_ADDR_IN_GUEST} dst ${GUEST_ADDR} proto esp spi ${spis.h2g} reqid 1 mode tunnel replay-window ${window} ${esnH2g} ${s.kernel(hex(h2g.enc), hex(h2g.integ))} encap espinudp ${P} 4500 0.0.0.0
udpio recv -s ${GUEST_INNER} -p ${GUEST_UDP_PORT} -n ${N + 1} -t 60 > /tmp/recv.txt 2>&1 &
echo $! > /tmp/recv.pid
i=0; while ! grep -q listening /tmp/recv.txt && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
grep -q listening /tmp/recv.txt
echo @@g2h; ip xfrm state get src ${GUEST_ADDR} dst ${HOST_ADDR_IN_GUEST} proto esp spi ${spis.g2h}
echo @@stat; cat /proc/net/xfrm_stat`),
    );

    // Our inbound SA is what parseXfrmState makes of the kernel's own output for its outbound SA.
    const [parsed] = parseXfrmState(setup.g2h!);
    const suite = parseSuite(s.esp);
    const want: SaConfig = {
      spi: spis.g2h,
      direction: "in",
      mode: "tunnel",
      esp: suite.name,
      encKey: g2h.enc,
      icvLength: suite.icvBytes as SaConfig["icvLength"],
      esn: s.esn,
      replayWindow: window,
      seq: 0n,
    };
    if (s.integBytes > 0) want.integKey = g2h.integ;
    assert.deepEqual(parsed, want, `parseXfrmState on the kernel's \`ip xfrm state\`:\n${setup.g2h}`);
    let inSa: SaHandle = -1;
    let outSa: SaHandle = -1;
    try {
      // The kernel's outbound SA shows no receive state; an ESN receiver starts where the sender does.
      inSa = dp.addSa({ ...parsed, seq: s.esn ? ESN_START : parsed.seq });
      outSa = dp.addSa({
        spi: spis.h2g,
        direction: "out",
        mode: "tunnel",
        esp: s.esp,
        esn: s.esn,
        encKey: h2g.enc,
        ...(s.integBytes > 0 ? { integKey: h2g.integ } : {}),
        ...(s.esn ? { seq: ESN_START } : {}),
      });

      // 2. us -> kernel: N datagrams; then the guest sends its N and reports its inbound SA.
      const tag = `${s.esp}${s.esn ? "-esn" : ""}`;
      const inners = Array.from({ length: N }, (_, k) =>
        buildPacket({
          v6: false,
          src: HOST_INNER,
          dst: GUEST_INNER,
          l4: "udp",
          id: 5555,
          seq: 0,
          dport: GUEST_UDP_PORT,
          payload: text.encode(`${tag} h2g ${k + 1}`),
        }),
      );
      const start = received.length;
      assert.equal(
        ep.send(outSa, inners, "127.0.0.1", vm.udpForwardPort),
        N,
        "our dataplane encapsulated every packet",
      );
      const flow = sections(
        await vm.sh(
          `
i=1; while [ $i -le ${N} ]; do udpio send -s ${GUEST_INNER} -p 7001 ${HOST_INNER} 9 "${tag} g2h $i" || exit 1; i=$((i + 1)); done
${waitInbound(spis.h2g, N)}`,
          30,
        ),
      );

      // kernel -> us
      for (let i = 0; i < 200 && received.length - start < N; i++) await sleep(50);
      const got = received.slice(start);
      assert.equal(got.length, N, `${N} ESP packets from the guest expected at our socket, got ${got.length}`);
      for (const [k, { r, from }] of got.entries()) {
        assert.equal(from, `127.0.0.1:${vm.udpForwardPort}`, "the guest's ESP comes from QEMU's forward port");
        assert.equal(r.status, "ok", `packet ${k + 1} from the kernel: ${r.status}`);
        assert.equal(r.spi, spis.g2h);
        assert.equal(r.seq, (s.esn ? ESN_START : 0n) + BigInt(k + 1), "sequence number (64-bit with ESN)");
        const payload = `${tag} g2h ${k + 1}`;
        assert.ok(r.payload, "decapsulated inner packet");
        assert.equal(hex(r.payload), hex(guestInner(payload, r.payload)), `inner packet ${k + 1}, exact bytes`);
      }
      const ours = dp.stats(inSa);
      assert.equal(ours.packets, BigInt(N));
      assert.deepEqual(
        Object.entries(ours.drops).filter(([, v]) => v !== 0n),
        [],
        "no drops on our inbound SA",
      );
      assert.equal(ours.seq, (s.esn ? ESN_START : 0n) + BigInt(N));

      // us -> kernel: counted and accepted
      const inbound = oneState(flow.inbound!, spis.h2g);
      assert.equal(inbound.packets, N, "guest `ip -s xfrm state`: inbound packets");
      assert.equal(inbound.failed, 0, "guest `ip -s xfrm state`: failed");
      assert.equal(inbound.replayDrops, 0, "guest `ip -s xfrm state`: replay");
      const guestView = parseXfrmState(flow.inbound!)[0];
      assert.equal(guestView!.esn, s.esn);
      assert.equal(
        guestView!.seq,
        (s.esn ? ESN_START : 0n) + BigInt(N),
        "the kernel's replay top (seq-hi:seq with ESN) is our last sequence number",
      );
      assert.equal(dp.stats(outSa).seq, guestView!.seq);

      // 3. One tampered packet: the byte before the ICV (Next Header) is covered by every suite's ICV.
      const [bad] = dp.encapsulateBatch(outSa, [
        buildPacket({
          v6: false,
          src: HOST_INNER,
          dst: GUEST_INNER,
          l4: "udp",
          id: 5555,
          seq: 0,
          dport: GUEST_UDP_PORT,
          payload: text.encode(`${tag} tampered`),
        }),
      ]);
      assert.equal(bad!.status, "ok");
      const wire = Uint8Array.from(bad!.packet ?? []);
      wire[wire.length - suite.icvBytes - 1]! ^= 0x01;
      await new Promise<void>((resolve, reject) =>
        ep.socket.send(wire, vm.udpForwardPort, "127.0.0.1", (e) => (e ? reject(e) : resolve())),
      );
      const end = sections(
        await vm.sh(
          `${waitInbound(spis.h2g, N + 1)}
echo @@stat; cat /proc/net/xfrm_stat
echo @@recv; sleep 0.3; kill $(cat /tmp/recv.pid) 2>/dev/null; cat /tmp/recv.txt`,
          30,
        ),
      );
      const afterBad = oneState(end.inbound!, spis.h2g);
      assert.equal(afterBad.failed, 1, "guest `ip -s xfrm state`: the tampered packet failed");
      assert.equal(afterBad.packets, N, "guest: no extra packet accepted");
      const stat0 = parseXfrmStat(setup.stat!);
      const stat1 = parseXfrmStat(end.stat!);
      assert.equal(
        stat1.XfrmInStateProtoError! - stat0.XfrmInStateProtoError!,
        1,
        "guest /proc/net/xfrm_stat XfrmInStateProtoError",
      );
      const delivered = [...end.recv!.matchAll(/^recv from (\S+) len \d+ text (.*) hex [0-9a-f]*$/gm)];
      assert.deepEqual(
        delivered.map((m) => m[1]),
        Array<string>(N).fill(`${HOST_INNER}:5555`),
        "the guest's socket sees our inner source",
      );
      assert.deepEqual(
        delivered.map((m) => m[2]),
        inners.map((_, k) => `${tag} h2g ${k + 1}`),
        "the guest's socket got our N datagrams, in order, and not the tampered one",
      );
    } finally {
      if (inSa >= 0) dp.removeSa(inSa);
      if (outSa >= 0) dp.removeSa(outSa);
    }
  });
});
