// AES-CCM (NIST SP 800-38C, RFC 3610) with nonces of 7 to 13 bytes (length field L = 15 - nonce
// bytes). ESP (RFC 4309) and IKEv2 (RFC 5282) use 11 bytes, salt ‖ IV, so L = 4; the other sizes
// are here so that the published RFC 3610 and SP 800-38C examples can check this code.
//
// Constant time: AES is the bitsliced core in ./aes (no tables, no data-dependent branches).
// CBC-MAC runs through aesCbcEncrypt with the MAC chain as IV and CTR through aesCtrXor; the
// formatting (B0, the AAD length prefix, zero padding) depends only on lengths and the nonce.
// Every loop bound and branch here depends only on lengths; the tag is compared with ctEqual
// over all tagLen bytes, and the only branch on its result (keep or undo the decryption)
// reveals nothing beyond accept/reject, which is public. CCM authenticates the plaintext, so
// ccmOpen decrypts before it can verify: on a mismatch the plaintext is undone (in place) or
// wiped (separate dst) before returning, so the caller never sees a byte of it. Scratch blocks
// are wiped before returning.
import { aesKeyBytes, aesExpandKey, aesEncryptBlocks, aesCbcEncrypt, aesCtrXor, aesForget } from "./aes";
import { ctEqual, wipe } from "./ct";

// Context layout (16-aligned): [rounds:i32 + pad][AES round keys] (bitsliced form cached in aes.ts).
const ROUNDS_OFF: usize = 0;
const AES_OFF: usize = 16;
/** CBC-MAC chunk: 8 blocks, one bitsliced pass per block (CBC is serial), output discarded but the last. */
const CHUNK: i32 = 128;

// Static scratch (the module is single-threaded).
const mac: usize = memory.data(16, 16);      // CBC-MAC chain X_i
const cbcOut: usize = memory.data(CHUNK, 16); // aesCbcEncrypt output; only its last block is kept
const block: usize = memory.data(16, 16);    // one formatted block (B0, the first AAD block, a padded tail)
const counter: usize = memory.data(16, 16);  // A_i = flags ‖ nonce ‖ BE32(i)
const s0: usize = memory.data(16, 16);       // E_K(A_0), masks the tag
const expected: usize = memory.data(16, 16);

function validKeyLen(keyLen: i32): bool {
  return keyLen == 16 || keyLen == 24 || keyLen == 32;
}

/** Bytes of a CCM context for a 16/24/32-byte AES key, 0 for another length. */
export function ccmContextBytes(keyLen: i32): i32 {
  if (!validKeyLen(keyLen)) return 0;
  return <i32>AES_OFF + ((aesKeyBytes(keyLen, 0) + 15) & ~15);
}

/** Key setup; returns AES rounds, or 0 for a bad key length. ctx must be 16-byte aligned. */
export function ccmInit(key: usize, keyLen: i32, ctx: usize): i32 {
  if (!validKeyLen(keyLen)) return 0;
  const rounds = aesExpandKey(key, keyLen, ctx + AES_OFF, 0);
  store<i32>(ctx + ROUNDS_OFF, rounds);
  return rounds;
}

/** Call before a CCM context is wiped, freed or reused: drops the cached bitsliced form of its AES key. */
export function ccmForget(ctx: usize): void {
  aesForget(ctx + AES_OFF);
}

/** X = CBC-MAC chain continued over len bytes at p, the last block zero-padded (SP 800-38C A.2). */
function macUpdate(ks: usize, rounds: i32, p: usize, len: i32): void {
  let off = 0;
  while (len - off >= 16) {
    const left = len - off;
    const n = left >= CHUNK ? CHUNK : left & ~15;
    aesCbcEncrypt(ks, rounds, mac, p + <usize>off, cbcOut, n);
    v128.store(mac, v128.load(cbcOut + <usize>(n - 16)));
    off += n;
  }
  const tail = len - off;
  if (tail > 0) {
    v128.store(block, i64x2.splat(0));
    memory.copy(block, p + <usize>off, <usize>tail);
    aesCbcEncrypt(ks, rounds, mac, block, block, 16);
    v128.store(mac, v128.load(block));
  }
}

/** flags (L - 1) ‖ nonce ‖ zeros in `p`: the common start of B0 and every A_i. */
function nonceBlock(p: usize, first: i32, nonce: usize, nonceLen: i32): void {
  v128.store(p, i64x2.splat(0));
  store<u8>(p, <u8>first);
  memory.copy(p + 1, nonce, <usize>nonceLen);
}

/** The untruncated tag T (in `mac`) over B0, the AAD and the plaintext (lengths checked by the callers). */
function cbcMac(ks: usize, rounds: i32, nonce: usize, nonceLen: i32, aad: usize, aadLen: i32, msg: usize, msgLen: i32, tagLen: i32): void {
  // B0 = flags ‖ N ‖ msgLen in L bytes; flags = Adata ‖ (M-2)/2 ‖ L-1.
  const l = 15 - nonceLen;
  nonceBlock(block, (aadLen > 0 ? 0x40 : 0) | (((tagLen - 2) >> 1) << 3) | (l - 1), nonce, nonceLen);
  for (let i = 0; i < l && i < 4; i++) store<u8>(block + <usize>(15 - i), <u8>(<u32>msgLen >>> (<u32>i << 3)));
  v128.store(mac, i64x2.splat(0));
  macUpdate(ks, rounds, block, 16);
  if (aadLen > 0) {
    // BE16(aadLen) ‖ AAD, zero-padded: the first block takes 14 AAD bytes, the rest follows unchanged.
    const head = aadLen < 14 ? aadLen : 14;
    v128.store(block, i64x2.splat(0));
    store<u16>(block, bswap<u16>(<u16>aadLen));
    memory.copy(block + 2, aad, <usize>head);
    macUpdate(ks, rounds, block, 16);
    macUpdate(ks, rounds, aad + <usize>head, aadLen - head);
  }
  macUpdate(ks, rounds, msg, msgLen);
}

/**
 * A_0 in `counter` and S_0 = E_K(A_0); then `counter` is set to A_1 for the payload. aesCtrXor
 * increments the last 4 bytes as one big-endian number; with L < 4 that never carries into the
 * nonce, because the callers refuse messages of 2^(8L) blocks or more.
 */
function counters(ks: usize, rounds: i32, nonce: usize, nonceLen: i32): void {
  nonceBlock(counter, 14 - nonceLen, nonce, nonceLen);
  aesEncryptBlocks(ks, rounds, counter, s0, 1);
  store<u8>(counter + 15, 1);
}

function wipeScratch(): void {
  wipe(mac, 16);
  wipe(cbcOut, CHUNK);
  wipe(block, 16);
  wipe(s0, 16);
  wipe(expected, 16);
}

/** Tag 4, 6, ..., 16 bytes; nonce 7..13 bytes; AAD under 0xFF00 bytes (the 2-byte length form); len fits in L bytes. */
function validArgs(nonceLen: i32, aadLen: i32, len: i32, tagLen: i32): bool {
  if (tagLen < 4 || tagLen > 16 || (tagLen & 1) != 0) return false;
  if (nonceLen < 7 || nonceLen > 13 || aadLen < 0 || aadLen >= 0xff00 || len < 0) return false;
  const l = 15 - nonceLen;
  return l >= 4 || <u32>len < (<u32>1 << (<u32>l << 3));
}

/**
 * Encrypts len bytes src->dst (may alias) under a nonceLen-byte nonce (11 for ESP); writes tagLen
 * (4..16, even) bytes of tag at `tag`. Returns 1, or 0 with nothing written for invalid lengths.
 */
export function ccmSeal(ctx: usize, nonce: usize, nonceLen: i32, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize, tagLen: i32): i32 {
  if (!validArgs(nonceLen, aadLen, len, tagLen)) return 0;
  const ks = ctx + AES_OFF;
  const rounds = load<i32>(ctx + ROUNDS_OFF);
  cbcMac(ks, rounds, nonce, nonceLen, aad, aadLen, src, len, tagLen);
  counters(ks, rounds, nonce, nonceLen);
  aesCtrXor(ks, rounds, counter, src, dst, len);
  v128.store(expected, v128.xor(v128.load(mac), v128.load(s0)));
  memory.copy(tag, expected, <usize>tagLen);
  wipeScratch();
  return 1;
}

/**
 * Decrypts src->dst (may alias), recomputes the tag over the plaintext and compares tagLen bytes
 * in constant time. Returns 1 when they match; otherwise 0, and dst holds no plaintext: in place
 * the ciphertext is restored, with a separate dst the len bytes are zeroed.
 */
export function ccmOpen(ctx: usize, nonce: usize, nonceLen: i32, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize, tagLen: i32): i32 {
  if (!validArgs(nonceLen, aadLen, len, tagLen)) return 0;
  const ks = ctx + AES_OFF;
  const rounds = load<i32>(ctx + ROUNDS_OFF);
  counters(ks, rounds, nonce, nonceLen);
  aesCtrXor(ks, rounds, counter, src, dst, len);
  cbcMac(ks, rounds, nonce, nonceLen, aad, aadLen, dst, len, tagLen);
  v128.store(expected, v128.xor(v128.load(mac), v128.load(s0)));
  const ok = ctEqual(expected, tag, tagLen);
  if (!ok) {
    if (dst == src) aesCtrXor(ks, rounds, counter, dst, dst, len); // CTR again gives the ciphertext back
    else wipe(dst, len);
  }
  wipeScratch();
  return ok;
}
