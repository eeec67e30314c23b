/**
 * NtPasswordHash (RFC 2759 §8.3) straight from the UTF-8 secret bytes of swanctl.conf, as
 * strongSwan's get_nt_hash converts them (utf8_to_utf16le), without a JavaScript string in
 * between: strings cannot be wiped, these buffers are.
 * @module
 */
import { md4 } from "./md4.ts";
import { secretBytes } from "../../dataplane/control-crypto.ts";

/** UTF-8 to UTF-16LE code units; a malformed sequence becomes U+FFFD. The caller wipes the result. */
function utf8ToUtf16le(utf8: Uint8Array): Uint8Array {
  const units: number[] = [];
  for (let i = 0; i < utf8.length;) {
    const b = utf8[i] ?? 0;
    const need = b < 0x80 ? 0 : b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : -1;
    let c = need === 0 ? b : need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
    let ok = need >= 0 && i + need < utf8.length;
    for (let k = 1; ok && k <= need; k++) {
      const n = utf8[i + k] ?? 0;
      if ((n & 0xc0) !== 0x80) ok = false;
      else c = (c << 6) | (n & 0x3f);
    }
    if (!ok) {
      units.push(0xfffd);
      i++;
      continue;
    }
    if (c >= 0x10000) {
      c -= 0x10000;
      units.push(0xd800 | (c >> 10), 0xdc00 | (c & 0x3ff));
    } else units.push(c);
    i += need + 1;
  }
  const out = secretBytes(units.length * 2);
  units.forEach((u, j) => {
    out[2 * j] = u & 0xff;
    out[2 * j + 1] = u >> 8;
  });
  units.fill(0);
  return out;
}

/** MD4 of the UTF-16LE password (16 bytes). Neither the secret nor the intermediate copy is kept. */
export function ntHashFromUtf8(secret: Uint8Array): Uint8Array {
  const u = utf8ToUtf16le(secret);
  const h = md4(u);
  u.fill(0);
  return h;
}
