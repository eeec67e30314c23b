// Control-plane crypto for the SDK's IKEv2 (SK payloads, PRF, AUTH): one-shot calls on caller-filled
// buffers. They run the same primitives as the ESP hot path, so there is one AES, one GHASH, one
// ChaCha20-Poly1305 and one HMAC in the product, and their constant-time arguments (see each file's header) carry over:
// key schedules and contexts live in fixed scratch and are wiped before each call returns; GCM open
// compares tags with ctEqual and writes no plaintext when they differ. Lengths and algorithm ids are
// public (they come from the negotiated proposal and the message size), so branching on them is fine.
import { aesExpandKey, aesKeyBytes, aesCbcEncrypt, aesCbcDecrypt, aesForget } from "./crypto/aes";
import { gcmContextBytes, gcmInit, gcmSeal, gcmOpen, gcmForget } from "./crypto/gcm";
import { ccmContextBytes, ccmInit, ccmSeal, ccmOpen, ccmForget } from "./crypto/ccm";
import { hashDigestBytes, hashOneShot, hmacContextBytes, hmacInit, hmacMac } from "./crypto/hmac";
import {
  chachaPolyContextBytes, chachaPolyInit, chachaPolySeal, chachaPolyOpen,
} from "./crypto/chacha20poly1305";
import { wipe } from "./crypto/ct";

// Largest context any call needs: a GCM context for AES-256 (schedule + GHASH powers).
const CTX_BYTES: i32 = 8192;
const ctx: usize = memory.data(CTX_BYTES, 16);
let buf: usize = 0;
let bufLen: i32 = 0;

/** A 16-aligned scratch region of at least n bytes for the SDK to copy arguments into (may move when it grows). */
export function cc_buffer(n: i32): usize {
  if (n > bufLen) {
    const size = (n + 0xffff) & ~0xffff;
    buf = (heap.alloc(<usize>size + 16) + 15) & ~<usize>15;
    bufLen = size;
  }
  return buf;
}

/** HMAC (alg: 1 SHA-1, 2 SHA-256, 3 SHA-384, 4 SHA-512) of data under key; returns the digest length, 0 for an unknown alg. */
export function cc_hmac(alg: i32, key: usize, keyLen: i32, data: usize, dataLen: i32, out: usize): i32 {
  const n = hashDigestBytes(alg);
  if (n == 0) return 0;
  hmacInit(alg, key, keyLen, ctx);
  hmacMac(alg, ctx, data, dataLen, 0, 0, out);
  wipe(ctx, hmacContextBytes(alg));
  return n;
}

/** Plain hash; returns the digest length, 0 for an unknown alg. */
export function cc_hash(alg: i32, data: usize, len: i32, out: usize): i32 {
  const n = hashDigestBytes(alg);
  if (n != 0) hashOneShot(alg, data, len, out);
  return n;
}

/** AES-GCM seal with a 12-byte nonce (16 readable bytes at `nonce`); returns 1, or 0 for a bad key/tag length. */
export function cc_gcm_seal(key: usize, keyLen: i32, nonce: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize, tagLen: i32): i32 {
  if (tagLen < 4 || tagLen > 16 || gcmContextBytes(keyLen) == 0 || gcmContextBytes(keyLen) > CTX_BYTES) return 0;
  if (gcmInit(key, keyLen, ctx) == 0) return 0;
  gcmSeal(ctx, nonce, aad, aadLen, src, dst, len, tag, tagLen);
  gcmForget(ctx);
  wipe(ctx, gcmContextBytes(keyLen));
  return 1;
}

/** AES-GCM open; returns 1 if the tag verifies (plaintext written to dst), else 0 and dst untouched. */
export function cc_gcm_open(key: usize, keyLen: i32, nonce: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize, tagLen: i32): i32 {
  if (tagLen < 4 || tagLen > 16 || gcmContextBytes(keyLen) == 0 || gcmContextBytes(keyLen) > CTX_BYTES) return 0;
  if (gcmInit(key, keyLen, ctx) == 0) return 0;
  const ok = gcmOpen(ctx, nonce, aad, aadLen, src, dst, len, tag, tagLen);
  gcmForget(ctx);
  wipe(ctx, gcmContextBytes(keyLen));
  return ok;
}

/** AES-CCM seal with an 11-byte nonce (RFC 5282: 3-byte salt ‖ IV); returns 1, or 0 for a bad key/tag length. */
export function cc_ccm_seal(key: usize, keyLen: i32, nonce: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize, tagLen: i32): i32 {
  const n = ccmContextBytes(keyLen);
  if (n == 0 || n > CTX_BYTES || ccmInit(key, keyLen, ctx) == 0) return 0;
  const ok = ccmSeal(ctx, nonce, 11, aad, aadLen, src, dst, len, tag, tagLen);
  ccmForget(ctx);
  wipe(ctx, n);
  return ok;
}

/** AES-CCM open; returns 1 if the tag verifies (plaintext in dst), else 0 and dst holds no plaintext (zeroed). */
export function cc_ccm_open(key: usize, keyLen: i32, nonce: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize, tagLen: i32): i32 {
  const n = ccmContextBytes(keyLen);
  if (n == 0 || n > CTX_BYTES || ccmInit(key, keyLen, ctx) == 0) return 0;
  const ok = ccmOpen(ctx, nonce, 11, aad, aadLen, src, dst, len, tag, tagLen);
  ccmForget(ctx);
  wipe(ctx, n);
  return ok;
}

/** AES-CBC encrypt (dir 1) or decrypt (dir 0) of len bytes (a multiple of 16); returns 1, or 0 for bad lengths. */
export function cc_cbc(dir: i32, key: usize, keyLen: i32, iv: usize, src: usize, dst: usize, len: i32): i32 {
  const ksBytes = aesKeyBytes(keyLen, 1);
  if (ksBytes == 0 || ksBytes > CTX_BYTES || (len & 15) != 0 || len < 0) return 0;
  const rounds = aesExpandKey(key, keyLen, ctx, 1);
  if (dir == 1) aesCbcEncrypt(ctx, rounds, iv, src, dst, len);
  else aesCbcDecrypt(ctx, rounds, iv, src, dst, len);
  aesForget(ctx);
  wipe(ctx, ksBytes);
  return 1;
}

/** ChaCha20-Poly1305 (RFC 8439) seal with a 32-byte key and 12-byte nonce, 16-byte tag; returns 1, or 0 for a bad key length. */
export function cc_chacha_seal(key: usize, keyLen: i32, nonce: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize): i32 {
  if (keyLen != 32 || chachaPolyContextBytes() > CTX_BYTES) return 0;
  chachaPolyInit(key, ctx);
  chachaPolySeal(ctx, nonce, aad, aadLen, src, dst, len, tag);
  wipe(ctx, chachaPolyContextBytes());
  return 1;
}

/** ChaCha20-Poly1305 open; returns 1 if the 16-byte tag verifies (plaintext written to dst), else 0 and dst untouched. */
export function cc_chacha_open(key: usize, keyLen: i32, nonce: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize): i32 {
  if (keyLen != 32 || chachaPolyContextBytes() > CTX_BYTES) return 0;
  chachaPolyInit(key, ctx);
  const ok = chachaPolyOpen(ctx, nonce, aad, aadLen, src, dst, len, tag);
  wipe(ctx, chachaPolyContextBytes());
  return ok;
}
