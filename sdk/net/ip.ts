/**
 * IP addresses as text and bytes, the way inet_pton(3) and inet_ntop(3) read and write them.
 * The lowest SDK layer: imported by the dataplane, IKE, configuration and the runtime adapters,
 * imports nothing.
 * @module
 */

/** Parses an IPv4 dotted quad or an IPv6 address (RFC 4291 §2.2 text forms); undefined if it is neither. */
export function parseIp(text: string): Uint8Array | undefined {
  return text.includes(":") ? parseIp6(text) : parseIp4(text);
}

function parseIp4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    // inet_pton(3) refuses leading zeros, which other tools read as octal
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

function parseIp6(text: string): Uint8Array | undefined {
  let head = text;
  let v4: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    v4 = parseIp4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    head = text.slice(0, lastColon + 1) + "0:0"; // placeholder groups, replaced below
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const [first = "", second = ""] = halves;
  const left = groups(first);
  const right = halves.length === 2 ? groups(second) : [];
  if (!left || !right) return undefined;
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...left, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...right];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  if (v4) out.set(v4, 12);
  return out;
}

/**
 * Formats 4 or 16 bytes as an address the way inet_ntop(3) does (and so charon): IPv6 in RFC 5952
 * form (longest zero run of two or more groups compressed, lowercase), IPv4-mapped and
 * IPv4-compatible addresses with a dotted quad tail.
 */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${b.length}`);
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0)); // b.length is 16: never 0 by default
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (const [i, w] of words.entries()) {
    if (w === 0) {
      cur = cur.base === -1 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
      if (cur.len > best.len) best = { ...cur };
    } else {
      cur = { base: -1, len: 0 };
    }
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  // glibc's rule for an embedded IPv4 tail: ::a.b.c.d and ::ffff:a.b.c.d
  const v4Tail = best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff));
  let out = "";
  for (const [i, w] of words.entries()) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += "::";
      continue;
    }
    if (out !== "" && !out.endsWith(":")) out += ":";
    if (v4Tail && i === 6) {
      out += `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
      break;
    }
    out += w.toString(16);
  }
  return out;
}
