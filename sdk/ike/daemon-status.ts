/**
 * The `status` snapshot of the daemon's IKE SAs and their Child SAs (shaped like strongSwan's
 * `swanctl --list-sas`), with each Child SA's dataplane counters.
 * @module
 */
import type { Dataplane } from "../dataplane/dataplane.ts";
import type { SaHandle } from "../dataplane/types.ts";
import { hexBytes, spiBytes, type ChildSa, type IkeSa } from "./ike-sa.ts";
import { formatIdentity, type IkeIdentity } from "./identity.ts";
import { formatTs } from "./ts.ts";
import type { TrafficSelector } from "./message.ts";
import type { IkeSaStatus } from "./daemon-types.ts";

const tsText = (t: TrafficSelector): string => formatTs(t);

/** One entry per IKE SA in `sas`; `installed` gives a Child SA's dataplane handles, if installed. */
export function statusOf(
  sas: Iterable<IkeSa>,
  now: number,
  dp: Dataplane,
  installed: (c: ChildSa) => { in: SaHandle; out?: SaHandle } | undefined,
): IkeSaStatus[] {
  const fmtId = (id: IkeIdentity | undefined): string => (id ? formatIdentity(id) : "%any");
  return [...sas].map((ike) => ({
    name: ike.conn.name,
    uniqueId: ike.uniqueId,
    state: ike.state,
    initiator: ike.originalInitiator,
    spiI: hexBytes(ike.spiI),
    spiR: hexBytes(ike.spiR),
    local: `${ike.local.address}[${ike.local.port}]`,
    remote: `${ike.remote.address}[${ike.remote.port}]`,
    localId: fmtId(ike.localId),
    remoteId: fmtId(ike.remoteId),
    proposal: ike.proposal,
    establishedSecondsAgo: ike.establishedAt ? Math.round((now - ike.establishedAt) / 1000) : 0,
    localVips: [...ike.localVips],
    dns: [...ike.dnsServers],
    remoteVips: ike.remoteVips.map((l) => l.address),
    children: [...ike.children.values()].map((c) => {
      const inst = installed(c);
      return {
        name: c.name,
        uniqueId: c.uniqueId,
        state: c.state,
        mode: c.mode,
        proposal: c.proposal,
        spiIn: hexBytes(spiBytes(c.spiIn)),
        spiOut: hexBytes(spiBytes(c.spiOut)),
        localTs: c.localTs.map(tsText).join(" "),
        remoteTs: c.remoteTs.map(tsText).join(" "),
        installedSecondsAgo: Math.round((now - c.installedAt) / 1000),
        in: inst ? dp.stats(inst.in) : undefined,
        out: inst?.out !== undefined ? dp.stats(inst.out) : undefined,
      };
    }),
  }));
}
