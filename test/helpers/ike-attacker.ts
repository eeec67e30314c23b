// An attacker's IKE initiator for the flood and fragment tests: our own IkeSa on a host that
// captures its datagrams instead of sending them, with a fake backend (it never installs a child).
// The caller sends the captured bytes wherever the attack needs them.
import { IkeSa, type Endpoint, type IkeSaHost } from "../../sdk/ike/ike-sa.ts";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { connection, settle, VirtualClock, type PeerOptions } from "./ike-pair.ts";

export interface Attacker {
  ike: IkeSa;
  host: IkeSaHost;
  /** Every datagram the initiator produced, in order (the first is its IKE_SA_INIT request). */
  sent: Uint8Array[];
}

/** An initiator from `local` to `remote` that has produced its IKE_SA_INIT request (in `sent[0]`). */
export async function attacker(
  local: Endpoint,
  remote: Endpoint,
  peer: Omit<PeerOptions, "addr" | "remoteAddr">,
  natPort = 4500,
): Promise<Attacker> {
  const clock = new VirtualClock();
  const sent: Uint8Array[] = [];
  const host: IkeSaHost = {
    crypto: await ControlCrypto.create(),
    now: () => clock.now(),
    setTimer: (ms, fn) => clock.setTimer(ms, fn),
    clearTimer: (t) => clock.clearTimer(t),
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    log: () => undefined,
    natPort: () => natPort,
    lastHeard: () => 0,
    register: () => undefined,
    event: () => undefined,
    send: (b) => {
      sent.push(b.slice());
    },
    backend: {
      allocateSpi: () => 0x1234,
      installChild: () => undefined,
      activateOutbound: () => undefined,
      removeChild: () => undefined,
    },
  };
  const ike = new IkeSa(
    host,
    connection({ ...peer, addr: local.address, remoteAddr: remote.address }),
    local,
    remote,
    true,
  );
  ike.initiate(ike.conn.children[0]);
  await settle();
  return { ike, host, sent };
}
