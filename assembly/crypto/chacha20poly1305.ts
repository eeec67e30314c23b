// ChaCha20-Poly1305 AEAD (RFC 8439 section 2.8) as ESP uses it (RFC 7634): 32-byte key, 12-byte
// nonce (salt || IV), 16-byte tag.
//
// The first four-block batch (counters 0..3) yields the Poly1305 one-time key from block 0 and the
// keystream of the first 192 bytes from blocks 1..3, so a small packet costs one ChaCha20 pass.
//
// Constant time: ChaCha20 and Poly1305 are branch- and table-free (see their files); every branch
// here depends on lengths only. The tag is compared with ctEqual over all 16 bytes, and the only
// branch on its result (decrypt or not) reveals accept/reject, which is public. The one-time key,
// keystream scratch and Poly1305 state are wiped before returning.
import { CHACHA_BATCH, chacha20Keystream256, chacha20Xor, xorBytes } from "./chacha20";
import { POLY1305_STATE_BYTES, poly1305Blocks, poly1305Finish, poly1305Init, poly1305UpdatePadded } from "./poly1305";
import { ctEqual, wipe } from "./ct";

const KEY_BYTES: i32 = 32;
/** Keystream bytes of the first batch left over for data (blocks 1..3). */
const HEAD: i32 = CHACHA_BATCH - 64;

// Static scratch (single-threaded module): first batch keystream, Poly1305 state, lengths block, tag.
const first: usize = memory.data(CHACHA_BATCH, 16);
const poly: usize = memory.data(POLY1305_STATE_BYTES, 16);
const lengths: usize = memory.data(16, 16);
const expected: usize = memory.data(16, 16);

/** Bytes of per-SA key state the dataplane allocates (the 32-byte key, plus anything precomputed). */
export function chachaPolyContextBytes(): i32 {
  return KEY_BYTES;
}

/** Stores the 32-byte key at `key` into ctx (ctx has chachaPolyContextBytes() bytes). */
export function chachaPolyInit(key: usize, ctx: usize): void {
  memory.copy(ctx, key, <usize>KEY_BYTES);
}

/** Blocks 0..3: Poly1305 key from block 0 into the state, keystream for the first HEAD bytes in `first`. */
function start(ctx: usize, nonce: usize): void {
  chacha20Keystream256(ctx, nonce, 0, first);
  poly1305Init(poly, first);
}

/** Encrypts/decrypts len bytes: the head with the first batch, the rest from block 4 on. */
function crypt(ctx: usize, nonce: usize, src: usize, dst: usize, len: i32): void {
  const head = len < HEAD ? len : HEAD;
  xorBytes(src, dst, first + 64, head);
  if (len > HEAD) chacha20Xor(ctx, nonce, 4, src + <usize>HEAD, dst + <usize>HEAD, len - HEAD);
}

/** expected = Poly1305(aad || pad16 || ct || pad16 || le64(aadLen) || le64(len)). */
function computeTag(aad: usize, aadLen: i32, ct: usize, len: i32): void {
  poly1305UpdatePadded(poly, aad, aadLen);
  poly1305UpdatePadded(poly, ct, len);
  store<u64>(lengths, <u64>aadLen, 0);
  store<u64>(lengths, <u64>len, 8);
  poly1305Blocks(poly, lengths, 1, 1);
  poly1305Finish(poly, expected);
}

function wipeScratch(): void {
  wipe(first, CHACHA_BATCH);
  wipe(expected, 16);
}

/** RFC 8439 §2.8 AEAD encrypt: src->dst (may be equal), len bytes, tag (16 B) written at `tag`. */
export function chachaPolySeal(ctx: usize, nonce12: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize): void {
  if (len < 0 || aadLen < 0) return; // nonsense lengths: write nothing rather than trap
  start(ctx, nonce12);
  crypt(ctx, nonce12, src, dst, len);
  computeTag(aad, aadLen, dst, len);
  memory.copy(tag, expected, 16);
  wipeScratch();
}

/** Verifies the 16-byte tag over aad||ciphertext FIRST (constant-time compare); only if it verifies,
 *  decrypts src->dst and returns 1. Returns 0 and writes nothing to dst otherwise. */
export function chachaPolyOpen(ctx: usize, nonce12: usize, aad: usize, aadLen: i32, src: usize, dst: usize, len: i32, tag: usize): i32 {
  if (len < 0 || aadLen < 0) return 0;
  start(ctx, nonce12);
  computeTag(aad, aadLen, src, len);
  const ok = ctEqual(expected, tag, 16);
  if (ok) crypt(ctx, nonce12, src, dst, len);
  wipeScratch();
  return ok;
}
