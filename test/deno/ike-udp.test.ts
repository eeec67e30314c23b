// Deno: two IKE daemons negotiate over real UDP on 127.0.0.1 through the Deno adapter
// (Deno.listenDatagram) and ping through the Child SA. Run by `npm run test:deno`.
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { ControlCrypto } from "../../sdk/dataplane/control-crypto.ts";
import { IkeDaemon } from "../../sdk/ike/daemon.ts";
import { DenoIkeUdpTransport } from "../../sdk/deno/ike-udp.ts";
import { connection } from "../helpers/ike-pair.ts";
import { icmpEcho, echoReplyFor, parseIcmpEcho } from "../../sdk/packet/icmp.ts";

declare const Deno: { test(name: string, fn: () => Promise<void>): void };

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

Deno.test("deno adapter: IKEv2 over 127.0.0.1, Child SA installed, 5 pings answered", async () => {
  const cc = await ControlCrypto.create();
  const dpA = await Dataplane.create({ maxSas: 16, batchSize: 64 });
  const dpB = await Dataplane.create({ maxSas: 16, batchSize: 64 });
  let a: IkeDaemon | undefined, b: IkeDaemon | undefined;
  const tB = DenoIkeUdpTransport.bind(
    dpB,
    { address: "127.0.0.1", ikePort: 0, natPort: 0 },
    { onIke: (m, l, r) => b!.receiveIke(m, l, r), onEsp: (res) => b!.receiveEsp(res) },
  );
  const tA = DenoIkeUdpTransport.bind(
    dpA,
    { address: "127.0.0.1", ikePort: 0, natPort: 0 },
    { onIke: (m, l, r) => a!.receiveIke(m, l, r), onEsp: (res) => a!.receiveEsp(res) },
  );
  const common = { extra: { remotePort: tB.natPort, localPort: tA.natPort } };
  a = new IkeDaemon({
    dataplane: dpA,
    crypto: cc,
    transport: tA,
    localAddress: "127.0.0.1",
    connections: [
      connection({
        addr: "127.0.0.1",
        remoteAddr: "127.0.0.1",
        id: "a.example.org",
        localTs: "198.51.100.1/32",
        remoteTs: "203.0.113.0/24",
        ...common,
      }),
    ],
  });
  b = new IkeDaemon({
    dataplane: dpB,
    crypto: cc,
    transport: tB,
    localAddress: "127.0.0.1",
    connections: [
      connection({
        addr: "127.0.0.1",
        remoteAddr: "127.0.0.1",
        id: "b.example.org",
        localTs: "203.0.113.0/24",
        remoteTs: "198.51.100.0/24",
        extra: { remotePort: tA.natPort, localPort: tB.natPort },
      }),
    ],
  });
  b.onInner = (p) => {
    const r = echoReplyFor(p);
    if (r) b.sendInner([r], parseIcmpEcho(p)!.src);
  };
  let replies = 0;
  a.onInner = (p) => {
    if (parseIcmpEcho(p)?.type === 0) replies++;
  };
  const { child } = await a.initiate("peer");
  assert(child, "child SA up");
  for (let i = 0; i < 5; i++) a.sendInner([icmpEcho("198.51.100.1", "203.0.113.2", 1, i)], "203.0.113.2");
  for (let i = 0; i < 100 && replies < 5; i++) await new Promise((r) => setTimeout(r, 20));
  assert(replies === 5, `5 replies expected, got ${replies}`);
  await a.terminateAll();
  assert(b.sas.size === 0, "responder removed the IKE SA after DELETE");
  a.close();
  b.close();
  tA.close();
  tB.close();
});
