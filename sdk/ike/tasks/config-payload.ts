/**
 * The Configuration Payload of IKE_AUTH (RFC 7296 §2.19, §3.15), as charon's ike_config.c: the
 * initiator asks for virtual IPs (and DNS servers) in its first IKE_AUTH request, the responder
 * leases addresses from its pools and answers in its last IKE_AUTH response. Leases live as long
 * as the IKE SA (an IKE rekey hands them to the successor, see IkeSa.handOver).
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import type { VirtualIpLease } from "../config.ts";
import type { IkeIdentity } from "../identity.ts";
import { Notify, type ConfigAttribute, type Payload } from "../message.ts";
import { find, notify } from "../payloads.ts";
import { formatIp, parseIp } from "../../net/ip.ts";

/** CFG types (RFC 7296 §3.15). */
export const CfgType = { REQUEST: 1, REPLY: 2, SET: 3, ACK: 4 } as const;

/** Configuration attributes used here (RFC 7296 §3.15.1). */
export const CfgAttr = {
  INTERNAL_IP4_ADDRESS: 1,
  INTERNAL_IP4_NETMASK: 2,
  INTERNAL_IP4_DNS: 3,
  INTERNAL_IP6_ADDRESS: 8,
  INTERNAL_IP6_DNS: 10,
} as const;

/** The prefix length strongSwan appends to an INTERNAL_IP6_ADDRESS it sends (build_vip). */
const IP6_PREFIX = 64;

const familyOf = (addr: string): 4 | 6 => (addr.includes(":") ? 6 : 4);
const isAny = (addr: string): boolean => addr === "0.0.0.0" || addr === "::";

function addressAttribute(addr: string): ConfigAttribute {
  const fam = familyOf(addr);
  const type = fam === 4 ? CfgAttr.INTERNAL_IP4_ADDRESS : CfgAttr.INTERNAL_IP6_ADDRESS;
  if (isAny(addr)) return { type, value: new Uint8Array(0) };
  const bytes = parseIp(addr) ?? new Uint8Array(0);
  if (fam === 4) return { type, value: bytes };
  const v = new Uint8Array(17);
  v.set(bytes);
  v[16] = IP6_PREFIX;
  return { type, value: v };
}

/** The families of the virtual IPs the connection asks for (4, 6), in `vips` order. */
export function requestedVipFamilies(ike: IkeSa): (4 | 6)[] {
  return [...new Set((ike.conn.vips ?? []).map(familyOf))];
}

/**
 * Initiator: CP(CFG_REQUEST) for conn.vips, with the address wanted (empty for 0.0.0.0 / ::) and
 * an empty DNS attribute per family, as charon with its resolve plugin sends it; undefined when
 * no virtual IP is wanted.
 */
export function cpRequest(ike: IkeSa): Payload | undefined {
  const vips = ike.conn.vips ?? [];
  if (vips.length === 0) return undefined;
  const attributes = vips.map(addressAttribute);
  for (const fam of requestedVipFamilies(ike))
    attributes.push({
      type: fam === 4 ? CfgAttr.INTERNAL_IP4_DNS : CfgAttr.INTERNAL_IP6_DNS,
      value: new Uint8Array(0),
    });
  return { type: "CP", cfgType: CfgType.REQUEST, attributes };
}

/** An address attribute's value as text, or undefined when malformed or empty. */
function attributeAddress(a: ConfigAttribute): string | undefined {
  if (a.type === CfgAttr.INTERNAL_IP4_ADDRESS || a.type === CfgAttr.INTERNAL_IP4_DNS)
    return a.value.length === 4 ? formatIp(a.value) : undefined;
  // INTERNAL_IP6_ADDRESS carries a prefix length byte; INTERNAL_IP6_DNS does not.
  if (a.type === CfgAttr.INTERNAL_IP6_ADDRESS)
    return a.value.length === 17 ? formatIp(a.value.subarray(0, 16)) : undefined;
  if (a.type === CfgAttr.INTERNAL_IP6_DNS) return a.value.length === 16 ? formatIp(a.value) : undefined;
  return undefined;
}

/**
 * Initiator, last IKE_AUTH response: the assigned virtual IPs and DNS servers go to
 * `ike.localVips` / `ike.dnsServers` (logged as charon does). Returns whether we asked for an
 * address and got none.
 */
export function processCpReply(ike: IkeSa, ps: Payload[]): { missing: boolean } {
  const wanted = (ike.conn.vips ?? []).length > 0;
  const cp = find(ps, "CP");
  ike.localVips = [];
  ike.dnsServers = [];
  if (cp && cp.cfgType === CfgType.REPLY) {
    for (const a of cp.attributes) {
      const addr = attributeAddress(a);
      if (a.type === CfgAttr.INTERNAL_IP4_ADDRESS || a.type === CfgAttr.INTERNAL_IP6_ADDRESS) {
        if (!wanted) continue;
        if (addr === undefined || isAny(addr)) {
          ike.log(
            "IKE",
            1,
            () => `ignoring invalid ${a.type === 1 ? "INTERNAL_IP4_ADDRESS" : "INTERNAL_IP6_ADDRESS"} attribute`,
          );
          continue;
        }
        ike.log("IKE", 0, () => `installing new virtual IP ${addr}`);
        ike.localVips.push(addr);
      } else if (a.type === CfgAttr.INTERNAL_IP4_DNS || a.type === CfgAttr.INTERNAL_IP6_DNS) {
        if (addr === undefined) continue;
        ike.log("IKE", 0, () => `installing DNS server ${addr}`);
        ike.dnsServers.push(addr);
      }
    }
  } else if (cp) ike.log("IKE", 1, () => `ignoring CP payload of CFG type ${cp.cfgType}`);
  return { missing: wanted && ike.localVips.length === 0 };
}

/** The identity leases are keyed by: the EAP identity when EAP ran, else the IKE identity. */
export function leaseIdentity(ike: IkeSa): IkeIdentity {
  return ike.eapIdentity ?? ike.remoteId ?? { idType: 0, data: new Uint8Array(0) };
}

/**
 * Responder, last IKE_AUTH response (ike_config.c build_r): leases an address for every address
 * attribute of the peer's CFG_REQUEST (from the first IKE_AUTH request) and answers with
 * CFG_REPLY (address and the pool's DNS servers), or INTERNAL_ADDRESS_FAILURE when none could be
 * had, or FAILED_CP_REQUIRED when we have pools and the peer asked for nothing. `failed` means:
 * build no Child SA (child_create.c does the same on these notifies).
 */
export function respondCp(ike: IkeSa, request: Payload[]): { payloads: Payload[]; failed?: string } {
  const pools = ike.conn.pools ?? [];
  const cp = find(request, "CP");
  const requested =
    cp && cp.cfgType === CfgType.REQUEST
      ? cp.attributes.filter((a) => a.type === CfgAttr.INTERNAL_IP4_ADDRESS || a.type === CfgAttr.INTERNAL_IP6_ADDRESS)
      : [];
  const peer = leaseIdentity(ike);
  const who = ike.fmtId(peer);
  if (requested.length === 0) {
    if (pools.length === 0) return { payloads: [] };
    ike.log("IKE", 0, "expected a virtual IP request, sending FAILED_CP_REQUIRED");
    return {
      payloads: [notify(Notify.FAILED_CP_REQUIRED)],
      failed: `peer '${who}' asked for no virtual IP, but connection '${ike.conn.name}' assigns them from pool ${pools.join(", ")} (FAILED_CP_REQUIRED)`,
    };
  }
  ike.remoteVips = [];
  const attributes: ConfigAttribute[] = [];
  const why: string[] = [];
  for (const a of requested) {
    const fam: 4 | 6 = a.type === CfgAttr.INTERNAL_IP4_ADDRESS ? 4 : 6;
    const addr = attributeAddress(a);
    const wanted = addr ?? (fam === 4 ? "0.0.0.0" : "::");
    // charon prints an any-address as %any / %any6 (host.c)
    const shown = isAny(wanted) ? (fam === 4 ? "%any" : "%any6") : wanted;
    ike.log("IKE", 0, () => `peer requested virtual IP ${shown}`);
    const lease: VirtualIpLease | { error: string } =
      pools.length === 0
        ? { error: `connection '${ike.conn.name}' has no pools` }
        : ike.host.acquireVirtualIp
          ? ike.host.acquireVirtualIp(pools, peer, fam, isAny(wanted) ? undefined : wanted)
          : { error: "this host assigns no virtual IPs" };
    if ("error" in lease) {
      ike.log("IKE", 0, () => `no virtual IP found for ${shown} requested by '${who}'`);
      why.push(lease.error);
      continue;
    }
    ike.log("IKE", 0, () => `assigning virtual IP ${lease.address} to peer '${who}'`);
    ike.remoteVips.push(lease);
    attributes.push(addressAttribute(lease.address));
    for (const dns of lease.dns) {
      const bytes = parseIp(dns);
      if (!bytes) continue;
      attributes.push({ type: bytes.length === 4 ? CfgAttr.INTERNAL_IP4_DNS : CfgAttr.INTERNAL_IP6_DNS, value: bytes });
    }
  }
  if (ike.remoteVips.length === 0) {
    ike.log("IKE", 0, "no virtual IP found, sending INTERNAL_ADDRESS_FAILURE");
    return {
      payloads: [notify(Notify.INTERNAL_ADDRESS_FAILURE)],
      failed: `no virtual IP for peer '${who}' from pool ${pools.length ? pools.join(", ") : "(none)"}: ${why.join("; ")} (INTERNAL_ADDRESS_FAILURE)`,
    };
  }
  return { payloads: [{ type: "CP", cfgType: CfgType.REPLY, attributes }] };
}

/** Gives every lease of the SA back to the host (the SA is gone, not rekeyed). */
export function releaseLeases(ike: IkeSa): void {
  const leases = ike.remoteVips;
  if (leases.length === 0) return;
  ike.remoteVips = [];
  const peer = leaseIdentity(ike);
  for (const l of leases) ike.host.releaseVirtualIp?.(l, peer);
}
