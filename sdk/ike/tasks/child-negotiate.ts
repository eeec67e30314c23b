/**
 * The Child SA negotiation that IKE_AUTH, CREATE_CHILD_SA and a child rekey share (RFC 7296
 * §1.3, §2.9, §2.17): the request's SA/TS/KE payloads, the initiator's check of the response,
 * the responder's choice of template, proposal and narrowed selectors, and key derivation.
 * @module
 */
import type { IkeSa } from "../ike-sa.ts";
import type { ChildSa, ChildSaKeys } from "../child-sa.ts";
import type { ChildTemplate } from "../config.ts";
import { generateKeyShare, type KeyShare } from "../dh.ts";
import {
  acceptChosen,
  selectProposal,
  toWireProposals,
  formatProposal,
  espSuiteKeyword,
  keyLengths,
  type Chosen,
} from "../proposals.ts";
import { narrowTs, formatTsList, explainTsMismatch, resolveTs, tsForAddress } from "../ts.ts";
import { deriveChildKeys } from "../keys.ts";
import { notifyName } from "../names.ts";
import { Notify, NOTIFY_ERROR_MAX, ProtocolId, type Payload, type Proposal, type TrafficSelector } from "../message.ts";
import { IkeError } from "../errors.ts";
import { chosenProposal, find, groupBytes, groupName, lowerNonce, notifies, notify, spiBytes } from "../payloads.ts";
import { NONCE_BYTES } from "./common.ts";
import { requestedVipFamilies } from "./config-payload.ts";

/** The whole address range of a family: what charon proposes for a `dynamic` TS while asking for a virtual IP. */
function anyTs(family: 4 | 6): TrafficSelector {
  const n = family === 4 ? 4 : 16;
  return {
    tsType: family === 4 ? 7 : 8,
    ipProtocol: 0,
    startPort: 0,
    endPort: 0xffff,
    start: new Uint8Array(n),
    end: new Uint8Array(n).fill(0xff),
  };
}

/** Replaces `dynamic` by each of `hosts` (selectors). */
function resolveDynamic(list: (TrafficSelector | "dynamic")[], hosts: TrafficSelector[]): TrafficSelector[] {
  // A loop, not flatMap (which showed in the setup profile with an array per selector).
  const out: TrafficSelector[] = [];
  for (const ts of list) {
    if (ts === "dynamic") for (const h of hosts) out.push(h);
    else out.push(ts);
  }
  return out;
}

/**
 * What our `dynamic` TS stands for (charon's prepare_proposed_ts and ike_sa_get_dynamic_hosts):
 * the virtual IPs the peer assigned us; in the IKE_AUTH that asks for them, 0.0.0.0/0 (::/0) of
 * each family asked for, for the responder to narrow to the address it assigns; else our address.
 */
export function localDynamic(ike: IkeSa, inAuth: boolean): TrafficSelector[] {
  if (ike.localVips.length) return ike.localVips.map(tsForAddress);
  const families = inAuth ? requestedVipFamilies(ike) : [];
  if (families.length) return families.map(anyTs);
  return [tsForAddress(ike.local.address)];
}

/** What the peer's `dynamic` TS stands for: the virtual IPs we leased it, else its address. */
export function remoteDynamic(ike: IkeSa): TrafficSelector[] {
  if (ike.remoteVips.length) return ike.remoteVips.map((l) => tsForAddress(l.address));
  return [tsForAddress(ike.remote.address)];
}

/** A Child SA we asked for and whose response has not come yet. */
export interface PendingChild {
  template: ChildTemplate;
  spiIn: number;
  rekeyOf?: ChildSa;
  ks?: KeyShare;
  group?: number;
  nonce: Uint8Array;
}

export function newPendingChild(ike: IkeSa, t: ChildTemplate, rekeyOf?: ChildSa, pfs = false): PendingChild {
  const spiIn = ike.host.backend.allocateSpi();
  const group = pfs ? t.espProposals[0]?.dh[0] : undefined;
  const ks = group ? generateKeyShare(group, (n) => ike.host.random(n)) : undefined;
  return { template: t, spiIn, rekeyOf, ks, group, nonce: ike.host.random(NONCE_BYTES) };
}

/** SA, TS (and for CREATE_CHILD_SA: Nonce, KE) of a child request. */
export function childRequestPayloads(ike: IkeSa, c: PendingChild, withKe: boolean): Payload[] {
  const t = c.template;
  const out: Payload[] = [];
  if (c.rekeyOf) out.push(notify(Notify.REKEY_SA, new Uint8Array(0), ProtocolId.ESP, spiBytes(c.rekeyOf.spiIn)));
  if (t.mode === "transport") out.push(notify(Notify.USE_TRANSPORT_MODE));
  out.push({ type: "SA", proposals: toWireProposals(t.espProposals, spiBytes(c.spiIn), { withoutDh: !withKe }) });
  if (withKe) {
    out.push({ type: "NONCE", data: c.nonce });
    if (c.ks && c.group !== undefined) out.push({ type: "KE", group: c.group, data: c.ks.publicValue });
  }
  const localTs = c.rekeyOf ? c.rekeyOf.localTs : resolveDynamic(t.localTs, localDynamic(ike, !withKe));
  const remoteTs = c.rekeyOf ? c.rekeyOf.remoteTs : resolveTs(t.remoteTs, ike.remote.address);
  out.push({ type: "TSi", selectors: localTs }, { type: "TSr", selectors: remoteTs });
  return out;
}

/** Initiator: the child part of a response (IKE_AUTH or CREATE_CHILD_SA); installs and announces it. */
export async function completeChild(
  ike: IkeSa,
  c: PendingChild,
  ps: Payload[],
  inAuth: boolean,
  ni?: Uint8Array,
  nr?: Uint8Array,
): Promise<ChildSa | undefined> {
  const ns = notifies(ps);
  const err = ns.find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
  const t = c.template;
  const failed = (e: IkeError): undefined => {
    c.ks?.wipe();
    ike.childFailed(e);
    return undefined;
  };
  if (err) {
    if (err.notifyType === Notify.INTERNAL_ADDRESS_FAILURE || err.notifyType === Notify.FAILED_CP_REQUIRED) {
      ike.log("IKE", 0, () => `received ${notifyName(err.notifyType)} notify, no CHILD_SA built`);
      const why =
        err.notifyType === Notify.INTERNAL_ADDRESS_FAILURE
          ? "the peer has no virtual IP for us (its pool is exhausted, or it has no pool for this connection)"
          : "the peer requires a virtual IP request (set vips = 0.0.0.0 in this connection)";
      return failed(
        new IkeError(
          "CHILD_SA_FAILED",
          `Child SA '${t.name}' not built: ${notifyName(err.notifyType)}: ${why}`,
          "remote",
        ),
      );
    }
    const code =
      err.notifyType === Notify.NO_PROPOSAL_CHOSEN
        ? "NO_PROPOSAL_CHOSEN"
        : err.notifyType === Notify.TS_UNACCEPTABLE
          ? "TS_UNACCEPTABLE"
          : "CHILD_SA_FAILED";
    const detail =
      code === "NO_PROPOSAL_CHOSEN"
        ? `peer accepts none of our ESP proposals for '${t.name}' (${toWireProposals(t.espProposals, spiBytes(c.spiIn), { withoutDh: inAuth }).map(formatProposal).join(", ")}); compare with the peer's esp_proposals`
        : code === "TS_UNACCEPTABLE"
          ? `peer finds our traffic selectors for '${t.name}' unacceptable: ${formatTsList(resolveTs(t.localTs, ike.local.address))} === ${formatTsList(resolveTs(t.remoteTs, ike.remote.address))}; compare with the peer's local_ts/remote_ts`
          : `peer refused Child SA '${t.name}' with ${notifyName(err.notifyType)}`;
    return failed(new IkeError(code, detail, "remote"));
  }
  const sa = find(ps, "SA"),
    tsi = find(ps, "TSi"),
    tsr = find(ps, "TSr");
  if (!sa || !tsi || !tsr)
    return failed(new IkeError("CHILD_SA_FAILED", `response for Child SA '${t.name}' lacks SA, TSi or TSr`, "remote"));
  const sel = acceptChosen(sa.proposals, t.espProposals, { ignoreDh: inAuth });
  if (!sel.ok)
    return failed(
      new IkeError("NO_PROPOSAL_CHOSEN", `peer chose an ESP proposal we did not offer: ${sel.explanation}`),
    );
  let pfs: Uint8Array | undefined;
  if (!inAuth && c.ks) {
    const ke = find(ps, "KE");
    if (!ke || ke.group !== c.group)
      return failed(
        new IkeError(
          "INVALID_KE_PAYLOAD",
          `peer's CREATE_CHILD_SA response lacks a KE for PFS group ${groupName(c.group ?? 0)}`,
          "remote",
        ),
      );
    try {
      pfs = c.ks.computeSecret(ke.data);
    } catch (e) {
      return failed(
        new IkeError(
          "INVALID_KE_PAYLOAD",
          `peer's PFS key exchange value is invalid: ${(e as Error).message}`,
          "remote",
        ),
      );
    }
    c.ks.wipe();
  }
  const transport = ns.some((n) => n.notifyType === Notify.USE_TRANSPORT_MODE);
  if (t.mode === "transport" && !transport)
    return failed(new IkeError("CHILD_SA_FAILED", `peer did not accept transport mode for '${t.name}'`, "remote"));
  const child = install(
    ike,
    t,
    sel.chosen,
    c.spiIn,
    tsi.selectors,
    tsr.selectors,
    ni ?? ike.ni,
    nr ?? ike.nr,
    true,
    pfs,
    true,
  );
  if (child) ike.announceChild(child, c.rekeyOf);
  return child;
}

/** Responder: template, proposal and selectors for a child request; installs it; returns the response payloads. */
export async function respondChildRequest(
  ike: IkeSa,
  ps: Payload[],
  ni: Uint8Array,
  nr: Uint8Array,
  rekeyOf: ChildSa | undefined,
  inAuth: boolean,
): Promise<{ payloads: Payload[]; child?: ChildSa }> {
  const sa = find(ps, "SA"),
    tsi = find(ps, "TSi"),
    tsr = find(ps, "TSr");
  if (!sa || !tsi || !tsr) return inAuth ? { payloads: [] } : { payloads: [notify(Notify.INVALID_SYNTAX)] };
  const transport = notifies(ps).some((n) => n.notifyType === Notify.USE_TRANSPORT_MODE);
  // For a rekey the old child's template; else the first whose selectors fit.
  const templates = rekeyOf ? [rekeyOf.template] : ike.conn.children;
  let lastTsWhy = "";
  let lastPropWhy = "";
  for (const t of templates) {
    const remoteCfg = resolveDynamic(t.remoteTs, remoteDynamic(ike));
    const localCfg = resolveTs(t.localTs, ike.local.address);
    const nI = narrowTs(tsi.selectors, remoteCfg);
    const nR = narrowTs(tsr.selectors, localCfg);
    if (nI.length === 0 || nR.length === 0) {
      lastTsWhy =
        nI.length === 0 ? explainTsMismatch(tsi.selectors, remoteCfg) : explainTsMismatch(tsr.selectors, localCfg);
      continue;
    }
    const supported = t.espProposals.filter((s) => s.encr.length > 0);
    const sel = selectProposal(sa.proposals, supported, { ignoreDh: inAuth });
    if (!sel.ok) {
      lastPropWhy = sel.explanation;
      ike.log("CFG", 1, () => `received proposals: ${sa.proposals.map(formatProposal).join(", ")}`);
      ike.log(
        "CFG",
        1,
        () =>
          `configured proposals: ${toWireProposals(t.espProposals, new Uint8Array(4)).map(formatProposal).join(", ")}`,
      );
      continue;
    }
    if (!espSuiteKeyword(sel.chosen)) {
      lastPropWhy = `${formatProposal(sel.proposal)} is not implemented by the ipsec-wasm dataplane`;
      continue;
    }
    let pfs: Uint8Array | undefined;
    const ke: Payload[] = [];
    if (!inAuth && sel.chosen.dh) {
      const theirs = find(ps, "KE");
      const g = sel.chosen.dh;
      if (!theirs || theirs.group !== g) {
        ike.log(
          "IKE",
          0,
          () =>
            `CREATE_CHILD_SA KE ${theirs ? `uses group ${groupName(theirs.group)}` : "missing"}, requesting ${groupName(g)}`,
        );
        return { payloads: [notify(Notify.INVALID_KE_PAYLOAD, groupBytes(g))] };
      }
      const mine = generateKeyShare(g, (n) => ike.host.random(n));
      try {
        pfs = mine.computeSecret(theirs.data);
      } catch {
        mine.wipe();
        return { payloads: [notify(Notify.INVALID_SYNTAX)] };
      }
      ke.push({ type: "KE", group: g, data: mine.publicValue });
      mine.wipe();
    }
    if (t.mode === "transport" && !transport) {
      lastPropWhy = `'${t.name}' is configured for transport mode but the peer asked for tunnel mode`;
      continue;
    }
    const spiIn = ike.host.backend.allocateSpi();
    const child = install(ike, t, sel.chosen, spiIn, nR, nI, ni, nr, false, pfs, rekeyOf === undefined);
    if (!child) return { payloads: [notify(Notify.NO_PROPOSAL_CHOSEN)] };
    const payloads: Payload[] = [];
    if (transport && t.mode === "transport") payloads.push(notify(Notify.USE_TRANSPORT_MODE));
    const chosenWire: Proposal = { ...sel.proposal, spi: spiBytes(spiIn) };
    payloads.push({ type: "SA", proposals: [chosenWire] });
    if (!inAuth) payloads.push({ type: "NONCE", data: nr });
    payloads.push(...ke, { type: "TSi", selectors: nI }, { type: "TSr", selectors: nR });
    return { payloads, child };
  }
  if (lastPropWhy) {
    ike.log("IKE", 0, () => `no acceptable proposal found: ${lastPropWhy}`);
    ike.childFailed(
      new IkeError("NO_PROPOSAL_CHOSEN", `no acceptable ESP proposal from ${ike.remote.address}: ${lastPropWhy}`),
    );
    return { payloads: [notify(Notify.NO_PROPOSAL_CHOSEN)] };
  }
  const why = lastTsWhy || "no child configuration";
  const text = `traffic selectors ${formatTsList(tsr.selectors)} === ${formatTsList(tsi.selectors)} unacceptable: ${why}`;
  ike.log("IKE", 0, text);
  ike.childFailed(new IkeError("TS_UNACCEPTABLE", text));
  return { payloads: [notify(Notify.TS_UNACCEPTABLE)] };
}

/**
 * Derives keys and installs the pair. `weInitiated`: we sent the request of this exchange (i2r
 * keys are then our outbound). `outbound` false: a rekey responder waits for the old SA's DELETE.
 */
function install(
  ike: IkeSa,
  t: ChildTemplate,
  chosen: Chosen,
  spiIn: number,
  localTs: TrafficSelector[],
  remoteTs: TrafficSelector[],
  ni: Uint8Array,
  nr: Uint8Array,
  weInitiated: boolean,
  pfs: Uint8Array | undefined,
  outbound: boolean,
): ChildSa | undefined {
  const suite = espSuiteKeyword(chosen);
  if (!suite) {
    ike.childFailed(
      new IkeError(
        "NO_PROPOSAL_CHOSEN",
        `negotiated ${formatProposal(chosenProposal(chosen))} is not implemented by the dataplane`,
      ),
    );
    return undefined;
  }
  if (!ike.prf || !ike.skKeys) throw new IkeError("INTERNAL", "Child SA keys without IKE keys");
  const lens = keyLengths(chosen);
  const keys = deriveChildKeys(ike.prf, ike.skKeys.skD, ni, nr, { encr: lens.encrKey, integ: lens.integKey }, pfs);
  pfs?.fill(0);
  const mine: ChildSaKeys = weInitiated
    ? { encOut: keys.encrI2r, integOut: keys.integI2r, encIn: keys.encrR2i, integIn: keys.integR2i }
    : { encOut: keys.encrR2i, integOut: keys.integR2i, encIn: keys.encrI2r, integIn: keys.integI2r };
  return ike.installChild(t, chosen, suite, spiIn, localTs, remoteTs, mine, {
    weInitiated,
    outbound,
    lowerNonce: lowerNonce(ni, nr),
  });
}
