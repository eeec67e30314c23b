// AES-CCM for ESP (RFC 4309) and for IKE's SK payload (RFC 5282) against node:crypto's
// aes-*-ccm (OpenSSL) as an independent implementation: KEYMAT = AES key ‖ 3-byte salt, nonce =
// salt ‖ 8-byte IV, AAD = SPI ‖ seq (SPI ‖ seq-hi ‖ seq-lo with ESN, RFC 4309 §5), ICV 8/12/16.
// Both directions, every key size and ICV, tunnel and ESN across 2^32; tampered packets are
// dropped as integrity-failed with nothing delivered and the window unmoved.
import { test } from "../helpers/aes-both-ways.ts";
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { Dataplane, parseSuite } from "../../sdk/index.ts";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { SkCipher, ENCR } from "../../sdk/ike/sk.ts";
import { ipv4Udp } from "../helpers/esp-ref.ts";

const be32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
const be64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
};
const keymat = (n: number, seed: number): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + seed * 11 + 3) & 255));
const SPI = 0x4309;

interface Ref {
  key: Buffer;
  salt: Buffer;
  icv: number;
  esn: boolean;
}
const ccmName = (key: Buffer): "aes-128-ccm" => `aes-${key.length * 8}-ccm` as "aes-128-ccm";
const aadOf = (r: Ref, seq: bigint): Buffer =>
  r.esn
    ? Buffer.concat([be32(SPI), be32(Number(seq >> 32n)), be32(Number(seq & 0xffffffffn))])
    : Buffer.concat([be32(SPI), be32(Number(seq & 0xffffffffn))]);

/** An ESP packet (SPI..ICV) made by node:crypto, tunnel mode (Next Header 4), IV chosen freely. */
function refEncap(r: Ref, seq: bigint, inner: Uint8Array, iv: Buffer): Buffer {
  const padLen = (4 - ((inner.length + 2) % 4)) % 4;
  const body = Buffer.concat([
    inner,
    Buffer.from(Array.from({ length: padLen }, (_, i) => i + 1)),
    Buffer.from([padLen, 4]),
  ]);
  const c = createCipheriv(ccmName(r.key), r.key, Buffer.concat([r.salt, iv]), { authTagLength: r.icv });
  c.setAAD(aadOf(r, seq), { plaintextLength: body.length });
  const ct = Buffer.concat([c.update(body), c.final()]);
  return Buffer.concat([be32(SPI), be32(Number(seq & 0xffffffffn)), iv, ct, c.getAuthTag()]);
}

/** node:crypto's reading of our packet: the inner packet, or throws when the ICV does not verify. */
function refDecap(r: Ref, seq: bigint, pkt: Uint8Array): { inner: Buffer; iv: Buffer } {
  const b = Buffer.from(pkt);
  assert.equal(b.readUInt32BE(0), SPI);
  assert.equal(b.readUInt32BE(4), Number(seq & 0xffffffffn));
  const iv = b.subarray(8, 16);
  const ct = b.subarray(16, b.length - r.icv);
  const d = createDecipheriv(ccmName(r.key), r.key, Buffer.concat([r.salt, iv]), { authTagLength: r.icv });
  d.setAuthTag(b.subarray(b.length - r.icv));
  d.setAAD(aadOf(r, seq), { plaintextLength: ct.length });
  const body = Buffer.concat([d.update(ct), d.final()]);
  assert.equal(body[body.length - 1], 4, "Next Header");
  const padLen = body[body.length - 2];
  return { inner: body.subarray(0, body.length - 2 - padLen!), iv };
}

for (const bits of [128, 192, 256]) {
  for (const icv of [8, 12, 16]) {
    const esp = `aes${bits}ccm${icv}`;
    for (const esn of [false, true]) {
      test(`${esp}${esn ? "-esn" : ""}: our packets open in node:crypto, node's open in ours, tampering is dropped`, async () => {
        const suite = parseSuite(esp);
        assert.equal(suite.encKeyBytes, bits / 8 + 3);
        const km = keymat(suite.encKeyBytes, bits + icv);
        const r: Ref = { key: km.subarray(0, bits / 8), salt: km.subarray(bits / 8), icv, esn };
        const start = esn ? 0xfffffffdn : 0n; // ESN: the packets cross 2^32
        const dp = await Dataplane.create();
        const cfg = {
          spi: SPI,
          mode: "tunnel" as const,
          esp: `${esp}${esn ? "-esn" : ""}`,
          encKey: new Uint8Array(km),
        };
        const out = dp.addSa({ ...cfg, direction: "out", seq: start });
        const inn = dp.addSa({ ...cfg, direction: "in", seq: start, replayWindow: 64 });
        for (let i = 1n; i <= 5n; i++) {
          const seq = start + i;
          const inner = ipv4Udp(Number(i) * 37 + 3, Number(i));
          const { packet } = dp.encapsulate(out, inner);
          const got = refDecap(r, seq, packet!);
          assert.equal(got.inner.toString("hex"), Buffer.from(inner).toString("hex"));
          assert.equal(got.iv.toString("hex"), be64(seq).toString("hex"), "IV = 64-bit sequence number");
          const theirs = refEncap(r, seq, inner, be64(seq ^ 0x0123456789abcdefn));
          const bad = Buffer.from(theirs);
          bad[20]! ^= 0x80;
          const d0 = dp.decapsulate(bad);
          assert.equal(d0.status, "integrity-failed");
          assert.equal(d0.payload, undefined);
          const d = dp.decapsulate(theirs);
          assert.equal(d.status, "ok", `seq ${seq}`);
          assert.equal(d.seq, seq);
          assert.equal(Buffer.from(d.payload!).toString("hex"), Buffer.from(inner).toString("hex"));
        }
        assert.equal(dp.stats(inn).drops["integrity-failed"], 5n);
        assert.equal(dp.stats(inn).packets, 5n);
        assert.throws(
          () => dp.addSa({ ...cfg, spi: SPI + 1, direction: "in", encKey: new Uint8Array(bits / 8 + 4) }),
          /3-byte salt, RFC 4309/,
        );
        assert.throws(() => dp.addSa({ ...cfg, spi: SPI + 2, direction: "in", verifyOnly: true }), /AEAD/);
      });
    }
  }
}

test("IKE SK payload with AES-CCM (RFC 5282): sealed by us, opened by node:crypto, and back", async () => {
  const cc = await ControlCrypto.create();
  for (const [encrId, icv] of [
    [ENCR.AES_CCM_8, 8],
    [ENCR.AES_CCM_12, 12],
    [ENCR.AES_CCM_16, 16],
  ] as const) {
    const skE = keymat(16 + 3, icv);
    const sk = new SkCipher(cc, encrId, new Uint8Array(skE), undefined, new Uint8Array(0), (n) => new Uint8Array(n));
    assert.equal(sk.icvBytes, icv);
    const header = {
      spiI: new Uint8Array(8).fill(1),
      spiR: new Uint8Array(8).fill(2),
      majorVersion: 2,
      minorVersion: 0,
      exchange: 37,
      flags: 0x08,
      messageId: 3,
    };
    const plaintext = new Uint8Array(Array.from({ length: 45 }, (_, i) => i));
    const msg = sk.seal(header, 41, plaintext);
    const aad = msg.subarray(0, 32),
      iv = msg.subarray(32, 40),
      ct = msg.subarray(40, msg.length - icv),
      tag = msg.subarray(msg.length - icv);
    const d = createDecipheriv("aes-128-ccm", skE.subarray(0, 16), Buffer.concat([skE.subarray(16), iv]), {
      authTagLength: icv,
    });
    d.setAuthTag(tag);
    d.setAAD(aad, { plaintextLength: ct.length });
    const body = Buffer.concat([d.update(ct), d.final()]);
    assert.deepEqual(new Uint8Array(body.subarray(0, 45)), plaintext);
    const opened = sk.open(msg, msg.length - 28 - 4);
    assert.ok(opened.ok);
    assert.deepEqual(opened.plaintext, plaintext);
    const bad = msg.slice();
    bad[bad.length - 1]! ^= 1;
    const refused = sk.open(bad, bad.length - 28 - 4);
    assert.equal(refused.ok, false);
    assert.match((refused as { reason: string }).reason, /AES-CCM tag mismatch/);
  }
});
