// The swanctl.conf of one of two ipsec-wasm peers joined by a veth, each with its TUN (the
// test/interop/tun-*.test.ts files): PSK, one inner host on each side as the selectors.
import { writeFileSync } from "node:fs";

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
  const host = (a: string): string => `${a}/${a.includes(":") ? 128 : 32}`;
  writeFileSync(
    path,
    `connections {
  t {
    local_addrs = ${me.out}
    remote_addrs = ${peer.out}
    proposals = aes128gcm16-prfsha256-x25519
    local {
      auth = psk
      id = ${me.id}
    }
    remote {
      auth = psk
      id = ${peer.id}
    }
    children {
      net {
        local_ts = ${host(me.inner)}
        remote_ts = ${host(peer.inner)}
        esp_proposals = ${o.esp ?? "aes128gcm16"}
        ${o.child ?? ""}
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = ${me.id}
    id-2 = ${peer.id}
    secret = ${o.psk ?? "tun-test-psk"}
  }
}
`,
  );
  return path;
}
