/**
 * Two ipsec-wasm IKE peers in one process, wired back to back: over real UDP sockets on 127.0.0.1
 * (what `ipsec-wasm demo` shows) or in memory (what the IKE setup benchmark measures, so the
 * number is the IKE work and not the kernel's loopback). Peer A initiates from 198.51.100.1/32 to
 * 203.0.113.0/24; peer B answers for 203.0.113.0/24. PSK authentication, FQDN identities.
 * @module
 */
import { Dataplane } from "../dataplane/dataplane.ts";
import { ControlCrypto } from "../dataplane/control-crypto.ts";
import { IkeDaemon, type IkeTransport } from "../ike/daemon.ts";
import type { Endpoint } from "../ike/ike-sa.ts";
import { DEFAULT_RETRANSMIT, type IkeConnection, type ChildTemplate } from "../ike/config.ts";
import { parseProposals } from "../ike/proposals.ts";
import { parseTs } from "../ike/ts.ts";
import { parseIdentity } from "../ike/identity.ts";
import type { LogRecord } from "../ike/log.ts";
import { IkeUdpTransport } from "./ike-udp.ts";

/** Inner address of peer A (the initiator's only host). */
export const INNER_A = "198.51.100.1";
/** Inner address peer A pings; it lies in peer B's protected network. */
export const INNER_B = "203.0.113.2";
/** Peer A's connection name; it appears in A's log lines as `<peer-a|1>`. */
export const CONN_A = "peer-a";
/** Peer B's connection name. */
export const CONN_B = "peer-b";

/** What both peers are configured with. */
export interface PeerPairOptions {
  /** IKE proposal in strongSwan notation, e.g. "aes128gcm16-prfsha256-x25519". */
  ike: string;
  /** ESP proposal in strongSwan notation, e.g. "aes128gcm16". */
  esp: string;
  /** Pre-shared key of both peers (default: a fixed demo key). */
  psk?: string;
  /** Peer B's key when it should differ from A's (shows AUTHENTICATION_FAILED). */
  pskB?: string;
  /** "udp": sockets on 127.0.0.1 with free ports (default); "memory": no sockets, datagrams handed over with setImmediate. */
  transport?: "udp" | "memory";
  /** Receives every log record of both daemons, tagged with the peer. */
  log?: (peer: "A" | "B", r: LogRecord) => void;
  /** Control crypto to share (instantiating one costs a wasm compile). */
  crypto?: ControlCrypto;
}

/** The running pair. */
export interface PeerPair {
  a: IkeDaemon;
  b: IkeDaemon;
  dpA: Dataplane;
  dpB: Dataplane;
  /** Where each peer's IKE and ESP arrive (NAT-T port). */
  endpointA: Endpoint;
  endpointB: Endpoint;
  /** Stops the daemons' timers and closes the sockets. */
  close(): Promise<void>;
}

const DEFAULT_PSK = "ipsec-wasm demo pre-shared key";

/** One end of the pair: outer address and NAT-T port, FQDN identity, traffic selectors (strongSwan notation). */
export interface PeerSide {
  addr: string;
  port: number;
  id: string;
  localTs: string;
  remoteTs: string;
}

function child(esp: string, localTs: string, remoteTs: string): ChildTemplate {
  return {
    name: "net",
    localTs: parseTs(localTs),
    remoteTs: parseTs(remoteTs),
    espProposals: parseProposals(esp, "ESP"),
    mode: "tunnel",
    startAction: "none",
    dpdAction: "clear",
    closeAction: "none",
    rekeyTime: 0,
    lifeTime: 0,
    randTime: 0,
    rekeyBytes: 0,
    lifeBytes: 0,
    rekeyPackets: 0,
    lifePackets: 0,
    replayWindow: 1024,
  };
}

/** A PSK connection from `me` to `peer` (what swanctl.conf would say for one side of the pair). */
export function pskConnection(
  name: string,
  me: PeerSide,
  peer: PeerSide,
  o: { ike: string; esp: string; psk: string },
): IkeConnection {
  return {
    name,
    localAddrs: [me.addr],
    remoteAddrs: [peer.addr],
    localPort: me.port,
    remotePort: peer.port,
    ikeProposals: parseProposals(o.ike, "IKE"),
    local: { auth: "psk", id: parseIdentity(me.id) },
    remote: { auth: "psk", id: parseIdentity(peer.id) },
    psk: new TextEncoder().encode(o.psk),
    children: [child(o.esp, me.localTs, me.remoteTs)],
    dpdDelay: 0,
    dpdTimeout: 0,
    rekeyTime: 0,
    overTime: 0,
    randTime: 0,
    fragmentation: "yes",
    encap: true,
    keyingTries: 1,
    retransmit: { ...DEFAULT_RETRANSMIT },
  };
}

/** Hands datagrams to the other daemon on the next turn of the event loop, as a socket would. */
function memoryTransport(me: Endpoint, peer: () => { daemon: IkeDaemon; dp: Dataplane }): IkeTransport {
  return {
    natPort: 4500,
    sendIke(bytes, local, remote) {
      const copy = bytes.slice();
      const from = { address: me.address, port: local.port };
      setImmediate(() => peer().daemon.receiveIke(copy, remote, from));
    },
    sendEsp(packets) {
      const copies = packets.map((p) => p.slice());
      setImmediate(() => {
        const p = peer();
        p.daemon.receiveEsp(p.dp.decapsulateBatch(copies));
      });
    },
  };
}

/** Starts peer A and peer B with the same proposals; nothing is negotiated until `a.initiate(CONN_A)`. */
export async function startPeerPair(o: PeerPairOptions): Promise<PeerPair> {
  const crypto = o.crypto ?? (await ControlCrypto.create());
  const dpA = await Dataplane.create({ maxSas: 64, batchSize: 256 });
  const dpB = await Dataplane.create({ maxSas: 64, batchSize: 256 });
  const psk = o.psk ?? DEFAULT_PSK;
  const log = o.log;
  const daemons: { a?: IkeDaemon; b?: IkeDaemon } = {};
  let transportA: IkeTransport, transportB: IkeTransport;
  let endpointA: Endpoint, endpointB: Endpoint;
  let closeSockets = async (): Promise<void> => undefined;

  if ((o.transport ?? "udp") === "udp") {
    const addr = "127.0.0.1";
    // Port 0 for both IKE and NAT-T: one marker-framed socket per peer, free ports.
    const udpA = await IkeUdpTransport.bind(
      dpA,
      { address: addr, ikePort: 0, natPort: 0 },
      {
        onIke: (bytes, local, remote) => daemons.a?.receiveIke(bytes, local, remote),
        onEsp: (results) => daemons.a?.receiveEsp(results),
      },
    );
    const udpB = await IkeUdpTransport.bind(
      dpB,
      { address: addr, ikePort: 0, natPort: 0 },
      {
        onIke: (bytes, local, remote) => daemons.b?.receiveIke(bytes, local, remote),
        onEsp: (results) => daemons.b?.receiveEsp(results),
      },
    );
    transportA = udpA;
    transportB = udpB;
    endpointA = { address: addr, port: udpA.natPort };
    endpointB = { address: addr, port: udpB.natPort };
    closeSockets = async () => {
      await udpA.close();
      await udpB.close();
    };
  } else {
    // Outer addresses from the benchmarking range (RFC 2544); nothing leaves the process.
    endpointA = { address: "198.18.0.1", port: 500 };
    endpointB = { address: "198.18.0.2", port: 500 };
    transportA = memoryTransport(endpointA, () => ({ daemon: daemons.b!, dp: dpB }));
    transportB = memoryTransport(endpointB, () => ({ daemon: daemons.a!, dp: dpA }));
  }

  const sideA: PeerSide = {
    addr: endpointA.address,
    port: endpointA.port,
    id: "peer-a.example.org",
    localTs: `${INNER_A}/32`,
    remoteTs: "203.0.113.0/24",
  };
  const sideB: PeerSide = {
    addr: endpointB.address,
    port: endpointB.port,
    id: "peer-b.example.org",
    localTs: "203.0.113.0/24",
    remoteTs: "198.51.100.0/24",
  };
  const common = { ike: o.ike, esp: o.esp };
  daemons.a = new IkeDaemon({
    dataplane: dpA,
    crypto,
    transport: transportA,
    localAddress: endpointA.address,
    connections: [pskConnection(CONN_A, sideA, sideB, { ...common, psk })],
    log: log && ((r) => log("A", r)),
  });
  daemons.b = new IkeDaemon({
    dataplane: dpB,
    crypto,
    transport: transportB,
    localAddress: endpointB.address,
    connections: [pskConnection(CONN_B, sideB, sideA, { ...common, psk: o.pskB ?? psk })],
    log: log && ((r) => log("B", r)),
  });
  const a = daemons.a,
    b = daemons.b;
  return {
    a,
    b,
    dpA,
    dpB,
    endpointA,
    endpointB,
    async close() {
      a.close();
      b.close();
      await closeSockets();
    },
  };
}
