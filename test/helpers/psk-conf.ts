// The swanctl.conf that two of our peers use in the CLI and TUN tests: one connection `t`, PSK on
// both sides, IKE aes128gcm16-prfsha256-x25519 unless told otherwise, one child `net`. The tests
// differ only in the fields of PskConfOptions.

/** One side: its outer address, IKE identity and traffic selector. */
export interface PskSide {
  addr: string;
  id: string;
  ts: string;
}

export interface PskConfOptions {
  esp: string;
  /** IKE proposals (default aes128gcm16-prfsha256-x25519). */
  proposals?: string;
  psk: string;
  /** local_port and remote_port (default: leave them out, 500/4500). */
  port?: number;
  /** Lines added to the connection, e.g. "rekey_time = 5s". */
  ike?: string;
  /** Lines added to the child, e.g. "start_action = trap". */
  child?: string;
}

/** The text of `me`'s swanctl.conf with `peer` as the remote side. */
export function pskConf(me: PskSide, peer: PskSide, o: PskConfOptions): string {
  const ports = o.port === undefined ? "" : `local_port = ${o.port}\n    remote_port = ${o.port}`;
  return `connections {
  t {
    local_addrs = ${me.addr}
    remote_addrs = ${peer.addr}
    ${ports}
    proposals = ${o.proposals ?? "aes128gcm16-prfsha256-x25519"}
    ${o.ike ?? ""}
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
        local_ts = ${me.ts}
        remote_ts = ${peer.ts}
        esp_proposals = ${o.esp}
        ${o.child ?? ""}
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = ${me.id}
    id-2 = ${peer.id}
    secret = ${o.psk}
  }
}
`;
}
