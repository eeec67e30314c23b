// The swanctl.conf of one of two ipsec-wasm peers joined by a veth, each with its TUN (the
// test/interop/tun-*.test.ts files): PSK, one inner host on each side as the selectors.
import { writeFileSync } from "node:fs";
import { pskConf } from "./psk-conf.ts";

/** One peer: its outer (veth) address, its inner (TUN) address, its IKE identity. */
export interface TunSide {
  out: string;
  inner: string;
  id: string;
}

/** What differs between the tests: the ESP suite, more child settings, the PSK text. */
export interface TunConfOptions {
  /** esp_proposals (default aes128gcm16). */
  esp?: string;
  /** Lines added to the child, e.g. "start_action = trap" or "rekey_time = 3s". */
  child?: string;
  psk?: string;
}

/** Writes the configuration of `me` talking to `peer` to `path`; returns `path`. */
export function writeTunConf(path: string, me: TunSide, peer: TunSide, o: TunConfOptions = {}): string {
  const side = (s: TunSide) => ({ addr: s.out, id: s.id, ts: `${s.inner}/${s.inner.includes(":") ? 128 : 32}` });
  writeFileSync(
    path,
    pskConf(side(me), side(peer), { esp: o.esp ?? "aes128gcm16", child: o.child, psk: o.psk ?? "tun-test-psk" }),
  );
  return path;
}
