// ControlCrypto (the IKE side's AES-GCM/CBC/HMAC over the dataplane wasm) against OpenSSL (node:crypto).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, createHmac, createHash, randomBytes } from "node:crypto";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { HashAlg } from "../../sdk/dataplane/suites.ts";

const cc = await ControlCrypto.create();
const u8 = (b: Buffer): Uint8Array => new Uint8Array(b);
const HASHES = [
  [HashAlg.Sha1, "sha1"],
  [HashAlg.Sha256, "sha256"],
  [HashAlg.Sha384, "sha384"],
  [HashAlg.Sha512, "sha512"],
] as const;

test("HMAC and hash match OpenSSL for every hash, key and data length", () => {
  for (const [alg, name] of HASHES) {
    for (const keyLen of [0, 1, 20, 32, 64, 65, 129, 200]) {
      for (const len of [0, 1, 55, 64, 111, 128, 1000, 70000]) {
        const key = u8(randomBytes(keyLen)),
          data = u8(randomBytes(len));
        assert.deepEqual(
          cc.hmac(alg, key, data),
          u8(createHmac(name, key).update(data).digest()),
          `${name} k${keyLen} d${len}`,
        );
      }
      assert.deepEqual(
        cc.hash(alg, new Uint8Array(300).fill(7)),
        u8(createHash(name).update(new Uint8Array(300).fill(7)).digest()),
      );
    }
  }
});

test("AES-GCM seal/open match OpenSSL; a flipped bit yields no plaintext", () => {
  for (const keyLen of [16, 24, 32]) {
    for (const len of [0, 1, 15, 16, 17, 300, 4096]) {
      for (const tagLen of [8, 12, 16]) {
        const key = u8(randomBytes(keyLen)),
          nonce = u8(randomBytes(12)),
          aad = u8(randomBytes(32)),
          pt = u8(randomBytes(len));
        const c = createCipheriv(`aes-${keyLen * 8}-gcm` as "aes-128-gcm", key, nonce, { authTagLength: 16 });
        c.setAAD(aad);
        const ct = Buffer.concat([c.update(pt), c.final()]);
        const ref = u8(Buffer.concat([ct, c.getAuthTag().subarray(0, tagLen)]));
        const sealed = cc.gcmSeal(key, nonce, aad, pt, tagLen);
        assert.deepEqual(sealed, ref);
        assert.deepEqual(cc.gcmOpen(key, nonce, aad, sealed, tagLen), pt);
        const bad = sealed.slice();
        bad[bad.length - 1]! ^= 1;
        assert.equal(cc.gcmOpen(key, nonce, aad, bad, tagLen), undefined);
      }
    }
  }
});

test("AES-CBC matches OpenSSL both ways; bad lengths are typed errors", () => {
  for (const keyLen of [16, 24, 32]) {
    for (const len of [16, 32, 48, 1024]) {
      const key = u8(randomBytes(keyLen)),
        iv = u8(randomBytes(16)),
        pt = u8(randomBytes(len));
      const c = createCipheriv(`aes-${keyLen * 8}-cbc`, key, iv).setAutoPadding(false);
      const ref = u8(Buffer.concat([c.update(pt), c.final()]));
      assert.deepEqual(cc.cbcEncrypt(key, iv, pt), ref);
      const d = createDecipheriv(`aes-${keyLen * 8}-cbc`, key, iv).setAutoPadding(false);
      assert.deepEqual(u8(Buffer.concat([d.update(ref), d.final()])), pt);
      assert.deepEqual(cc.cbcDecrypt(key, iv, ref), pt);
    }
  }
  assert.throws(() => cc.cbcEncrypt(new Uint8Array(16), new Uint8Array(16), new Uint8Array(15)), /multiple of 16/);
  assert.throws(() => cc.cbcEncrypt(new Uint8Array(17), new Uint8Array(16), new Uint8Array(16)), /bad key/);
});

test("ChaCha20-Poly1305 seal/open match OpenSSL (IKE SK payloads, RFC 7634 §3); a flipped bit yields no plaintext", () => {
  for (const len of [0, 1, 15, 16, 63, 64, 65, 300, 1400]) {
    const key = randomBytes(32),
      nonce = randomBytes(12),
      aad = randomBytes(32),
      pt = randomBytes(len);
    const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
    c.setAAD(aad, { plaintextLength: len });
    const expected = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
    const sealed = cc.chachaSeal(key, nonce, aad, pt);
    assert.deepEqual(Buffer.from(sealed), expected, `len ${len}`);
    assert.deepEqual(Buffer.from(cc.chachaOpen(key, nonce, aad, sealed)!), pt);
    const bad = sealed.slice();
    bad[bad.length - 1 - (len % 16)]! ^= 1;
    assert.equal(cc.chachaOpen(key, nonce, aad, bad), undefined);
  }
  assert.throws(
    () => cc.chachaSeal(randomBytes(16), randomBytes(12), new Uint8Array(0), new Uint8Array(4)),
    /must be 32/,
  );
});
