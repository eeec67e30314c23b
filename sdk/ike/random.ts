/**
 * The IKE daemon's default randomness: the runtime's CSPRNG (`crypto.getRandomValues`), drawn in
 * blocks and handed out in pieces. One IKE_SA + Child SA setup asks for about a dozen small values
 * per peer (IKE SPI, nonce, DH private key, Child SPI, cookie and NAT-D material, IVs); a call into
 * the runtime costs about 3 µs whatever its size, so one draw of a block serves many setups.
 *
 * Constant time / key hygiene: no branch or index depends on the bytes; every piece is copied out
 * and its bytes in the block are zeroed at once, so a DH private key or nonce drawn from here is
 * held only by its taker (the block never has a second copy of a handed-out byte). Bytes not yet
 * handed out sit in memory that does not move (`secretBytes`), like the state of OpenSSL's DRBG.
 * @module
 */
import { secretBytes } from "../dataplane/control-crypto.ts";

/** Bytes drawn from the runtime at once (a few setups' worth for both peers). */
export const RANDOM_BLOCK_BYTES = 1024;

/**
 * A `(n) => n fresh random bytes` function over `fill` (default: `crypto.getRandomValues`), which
 * it calls once per `blockBytes` handed out; requests larger than a block are drawn directly.
 */
export function blockRandom(
  fill: (b: Uint8Array) => void = (b) => void globalThis.crypto.getRandomValues(b),
  blockBytes = RANDOM_BLOCK_BYTES,
): (n: number) => Uint8Array {
  const block = secretBytes(blockBytes);
  let at = blockBytes; // empty: the first request draws
  return (n) => {
    const out = new Uint8Array(n);
    if (n > blockBytes) {
      fill(out);
      return out;
    }
    if (blockBytes - at < n) {
      // The remainder is zero already (every handed-out byte was zeroed): draw a whole new block.
      fill(block);
      at = 0;
    }
    const piece = block.subarray(at, at + n);
    out.set(piece);
    piece.fill(0);
    at += n;
    return out;
  };
}
