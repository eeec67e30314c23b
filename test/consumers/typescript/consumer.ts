// A TypeScript consumer of the published package: the public API as an application uses it.
// Type-checked (never run) by test/consumers/typescript.test.ts with strict, skipLibCheck false,
// under moduleResolution node16, nodenext and bundler; every line must compile with 0 errors,
// and the @ts-expect-error lines prove the types are real (not `any`).
import {
  ControlCrypto,
  Dataplane,
  DataplaneError,
  IkeDaemon,
  parseIdentity,
  parseProposals,
  parseTs,
  DEFAULT_RETRANSMIT,
  type DecapResult,
  type IkeConnection,
  type IkeDaemonOptions,
  type SaConfig,
  type SaHandle,
  type Status,
} from "ipsec-wasm";
import { IkeUdpTransport } from "ipsec-wasm/node/ike-udp";
import { EspUdpEndpoint } from "ipsec-wasm/node/esp-udp";

const key: Uint8Array = crypto.getRandomValues(new Uint8Array(20));

export const outbound: SaConfig = {
  spi: 0xc0ffee01,
  direction: "out",
  mode: "tunnel",
  esp: "aes128gcm16",
  encKey: key,
};
export const inbound = { ...outbound, direction: "in", replayWindow: 1024 } satisfies SaConfig;

export async function tunnel(inner: Uint8Array): Promise<Uint8Array | undefined> {
  const dp: Dataplane = await Dataplane.create();
  const out: SaHandle = dp.addSa(outbound);
  dp.addSa(inbound);
  const { packet } = dp.encapsulate(out, inner);
  if (packet === undefined) return undefined;
  const r: DecapResult = dp.decapsulate(packet);
  const status: Status = r.status;
  if (status === "integrity-failed") console.log(dp.stats(out).drops["integrity-failed"] satisfies bigint);
  // @ts-expect-error: not a Status
  const wrong: Status = "dropped";
  void wrong;
  return r.payload;
}

export function badConfig(dp: Dataplane): void {
  try {
    // @ts-expect-error: direction is "in" | "out"
    dp.addSa({ ...outbound, direction: "both" });
  } catch (e) {
    if (e instanceof DataplaneError) console.log(e.message);
  }
}

/** An IKEv2 responder on 127.0.0.1 with Node sockets (the ./node/ike-udp subpath). */
export async function responder(psk: string): Promise<IkeDaemon> {
  const dataplane = await Dataplane.create({ maxSas: 64 });
  const crypto: ControlCrypto = await ControlCrypto.create();
  let daemon: IkeDaemon | undefined;
  const transport: IkeUdpTransport = await IkeUdpTransport.bind(
    dataplane,
    { address: "127.0.0.1", ikePort: 0, natPort: 0 },
    {
      onIke: (bytes, local, remote) => daemon?.receiveIke(bytes, local, remote),
      onEsp: (results: DecapResult[]) => daemon?.receiveEsp(results),
    },
  );
  const connection: IkeConnection = {
    name: "edge",
    localAddrs: ["127.0.0.1"],
    remoteAddrs: ["%any"],
    localPort: transport.natPort,
    remotePort: 4500,
    ikeProposals: parseProposals("aes128gcm16-prfsha256-x25519", "IKE"),
    local: { auth: "psk", id: parseIdentity("edge.example.org") },
    remote: { auth: "psk", id: parseIdentity("%any") },
    psk: new TextEncoder().encode(psk),
    children: [
      {
        name: "net",
        localTs: parseTs("203.0.113.0/24"),
        remoteTs: parseTs("198.51.100.0/24"),
        espProposals: parseProposals("aes128gcm16", "ESP"),
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
      },
    ],
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
  const options: IkeDaemonOptions = {
    dataplane,
    crypto,
    transport,
    connections: [connection],
    localAddress: "127.0.0.1",
  };
  daemon = new IkeDaemon(options);
  return daemon;
}

/** Plain ESP-in-UDP without IKE (the ./node/esp-udp subpath). */
export async function espSocket(dp: Dataplane): Promise<number> {
  const ep = await EspUdpEndpoint.bind(dp, "127.0.0.1", 0, {
    onDecap: (results) => console.log(results.map((r) => r.status)),
  });
  const port: number = ep.port;
  await ep.close();
  return port;
}
