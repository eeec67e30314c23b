// Proposal keywords, charon's notation and RFC 7296 §2.7 selection, checked against charon 5.9.8
// itself (test/fixtures/swanctl/*.charon.txt, recorded by record-charon.sh), the real log lines in
// ../shared/interop/README.md, RFC 7296/4106/4868/3686/7634 text and the dataplane's own suite parser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ProtocolId, TransformType, type Proposal } from "../../sdk/ike/message.ts";
import {
  acceptChosen,
  defaultProposals,
  implementableIkeProposals,
  espSuiteKeyword,
  explainMismatch,
  formatAlgorithmSet,
  formatProposal,
  formatProposalList,
  keyLengths,
  keywordTransform,
  parseProposals,
  proposalKeywords,
  selectProposal,
  toWireProposals,
  transformName,
  type AlgorithmSet,
  type Chosen,
} from "../../sdk/ike/proposals.ts";
import { ConfigError } from "../../sdk/ike/config-error.ts";
import { parseSuite } from "../../sdk/dataplane/suites.ts";

const FIXTURES = new URL("../fixtures/swanctl/", import.meta.url);
const E = TransformType.ENCR,
  P = TransformType.PRF,
  I = TransformType.INTEG,
  D = TransformType.DH,
  S = TransformType.ESN;
const spi4 = Uint8Array.of(0xc1, 0x2f, 0xe4, 0x6c);

/** verdicts.charon.txt: "### setting = value", then charon's parsed value or its complaint. */
function verdicts(): { key: string; value: string; accepted?: string; reason?: string }[] {
  const out: { key: string; value: string; accepted?: string; reason?: string }[] = [];
  for (const line of readFileSync(new URL("verdicts.charon.txt", FIXTURES), "utf8").split("\n")) {
    const head = /^### (\w+) = (.*)$/.exec(line);
    if (head) {
      out.push({ key: head[1]!, value: head[2]! });
      continue;
    }
    const cur = out[out.length - 1];
    if (!cur || line.trim() === "") continue;
    const parsed = /^ +(proposals|local_ts) = (.*)$/.exec(line);
    if (parsed && !(cur.key === "esp_proposals" && line.startsWith("  proposals"))) cur.accepted = parsed[2];
    else if (!line.startsWith("loading connection") && !line.startsWith(" ")) cur.reason = line;
  }
  return out;
}

test("charon's verdict on every proposal in verdicts.list: same accept/refuse, same printed form, same reason", () => {
  const cases = verdicts().filter((v) => v.key === "proposals" || v.key === "esp_proposals");
  assert.ok(cases.length >= 15, `only ${cases.length} proposal verdicts recorded`);
  for (const v of cases) {
    const protocol = v.key === "proposals" ? "IKE" : "ESP";
    if (v.accepted !== undefined) {
      assert.equal(formatProposalList(parseProposals(v.value, protocol)), v.accepted, v.value);
      continue;
    }
    assert.ok(v.reason, `no verdict recorded for ${v.value}`);
    let err: unknown;
    try {
      parseProposals(v.value, protocol, { key: v.key, line: 7 });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError, `${v.value} was accepted; charon says: ${v.reason}`);
    assert.match(err.message, /\(line 7\)/);
    const unknown = /^algorithm '(.*)' not recognized$/.exec(v.reason);
    if (unknown) {
      assert.equal(err.code, "UNKNOWN_KEYWORD");
      assert.ok(err.message.includes(`'${unknown[1]}'`), err.message);
    } else {
      // charon's own sentence, word for word
      assert.ok(err.message.includes(v.reason), `${err.message}\n  lacks charon's: ${v.reason}`);
    }
  }
});

test("the docs' two spellings of one IKE proposal are the same proposal (strongSwan docs, Algorithm Proposals)", () => {
  const a = parseProposals("aes256gcm16-aes192gcm16-prfsha384-prfsha256-ecp384-modp3072", "IKE");
  const b = parseProposals("aes256gcm16-prfsha384-ecp384-aes192gcm16-prfsha256-modp3072", "IKE");
  assert.deepEqual(a, b);
  assert.equal(
    formatAlgorithmSet(a[0]!),
    "IKE:AES_GCM_16_256/AES_GCM_16_192/PRF_HMAC_SHA2_384/PRF_HMAC_SHA2_256/ECP_384/MODP_3072",
  );
});

test("default proposals are charon 5.9.8's, minus algorithms ipsec-wasm does not implement", () => {
  const text = readFileSync(new URL("defaults.charon.txt", FIXTURES), "utf8");
  const lines = [...text.matchAll(/^( +)proposals = (.*)$/gm)].map((m) => ({ child: m[1]!.length === 3, list: m[2] }));
  // conn "bare" (nothing configured) comes first, conn "keyword" (proposals = default) second
  const [bareEsp, bareIke, kwEsp, kwIke] = lines;
  assert.ok(bareEsp!.child && !bareIke!.child && kwEsp!.child && !kwIke!.child);
  const supported = new Set<string>();
  for (const w of [...proposalKeywords("IKE"), ...proposalKeywords("ESP")])
    supported.add(transformName(keywordTransform(w)!));
  const ours = (list: string) =>
    list
      .split(", ")
      .map((p) => {
        const [proto, algs] = p.split(":");
        return `${proto}:${algs!
          .split("/")
          .filter((a) => supported.has(a))
          .join("/")}`;
      })
      .join(", ");
  assert.equal(formatProposalList(defaultProposals("IKE")), ours(kwIke!.list!));
  assert.equal(formatProposalList(defaultProposals("IKE")), ours(bareIke!.list!));
  assert.equal(formatProposalList(parseProposals("default", "ESP")), ours(kwEsp!.list!));
  assert.equal(formatProposalList(defaultProposals("ESP", { omitted: true })), ours(bareEsp!.list!));
  // what the filter removed, so the comparison cannot pass by filtering everything
  assert.match(kwIke!.list!, /CAMELLIA_CBC_128.*3DES_CBC.*AES_CCM_16_128.*MODP_6144/);
  assert.equal(
    formatProposalList(parseProposals("default", "ESP")),
    "ESP:AES_CBC_128/AES_CBC_192/AES_CBC_256/HMAC_SHA2_256_128/HMAC_SHA2_384_192/HMAC_SHA2_512_256/HMAC_SHA1_96/NO_EXT_SEQ, " +
      "ESP:AES_GCM_16_128/AES_GCM_16_192/AES_GCM_16_256/NO_EXT_SEQ",
  );
});

test("keywords of the brief map to the IANA ids (RFC 7296 §3.3.2, IANA registry) and strongSwan's private sha256_96", () => {
  const one = (text: string, protocol: "IKE" | "ESP" = "ESP"): AlgorithmSet => parseProposals(text, protocol)[0]!;
  assert.deepEqual(one("aes128-aes192-aes256-sha1").encr, [
    { id: 12, keyLength: 128 },
    { id: 12, keyLength: 192 },
    { id: 12, keyLength: 256 },
  ]);
  assert.deepEqual(
    one("aes128ctr-aes256ctr-sha256").encr.map((e) => e.id),
    [13, 13],
  );
  assert.deepEqual(
    one("aes128gcm8-aes128gcm12-aes128gcm16-aes192gcm16-aes256gcm8-aes256gcm12-aes256gcm16").encr.map((e) => e.id),
    [18, 19, 20, 20, 18, 19, 20],
  );
  assert.deepEqual(one("aes128gmac-aes256gmac").encr, [
    { id: 21, keyLength: 128 },
    { id: 21, keyLength: 256 },
  ]);
  assert.deepEqual(one("chacha20poly1305").encr, [{ id: 28 }]);
  assert.deepEqual(one("aes128-sha1-sha256-sha384-sha512-sha256_96").integ, [2, 12, 13, 14, 1026]);
  assert.deepEqual(one("aes128-sha256-prfsha1-prfsha256-prfsha384-prfsha512-x25519", "IKE").prf, [2, 5, 6, 7]);
  assert.deepEqual(
    one("aes128gcm16-x25519-x448-ecp256-ecp384-ecp521-ecp256bp-ecp384bp-ecp512bp-modp2048-modp3072-modp4096-curve25519")
      .dh,
    [31, 32, 19, 20, 21, 28, 29, 30, 14, 15, 16, 31],
  );
  assert.deepEqual(one("aes128gcm16").esn, [0]);
  assert.deepEqual(one("aes128gcm16-esn").esn, [1]);
  assert.deepEqual(one("aes128gcm16-esn-noesn").esn, [1, 0]);
  assert.deepEqual(one("aes128gcm16-noesn").esn, [0]);
  assert.deepEqual(one("aes128gcm16-modp2048-none").dh, [14, 0]);
  // strongSwan derives PRFs from the integrity algorithms when none is named (proposal.c check_proposal)
  assert.deepEqual(one("aes128-sha384-sha1-ecp256", "IKE").prf, [6, 2]);
  assert.deepEqual(one("aes256gcm16-sha512-x25519", "IKE"), {
    protocol: "IKE",
    encr: [{ id: 20, keyLength: 256 }],
    integ: [],
    prf: [7],
    dh: [31],
    esn: [],
  });
});

test("unknown keywords: one sentence with the setting, the line, a suggestion and the known keywords", () => {
  let err: ConfigError | undefined;
  try {
    parseProposals("aes128gcm16, aes128gcm17", "ESP", { key: "esp_proposals", line: 12 });
  } catch (e) {
    err = e as ConfigError;
  }
  assert.ok(err);
  assert.equal(err.code, "UNKNOWN_KEYWORD");
  assert.equal(err.line, 12);
  assert.match(
    err.message,
    /^unknown ESP algorithm 'aes128gcm17' in esp_proposals \(line 12\) \(did you mean aes128gcm12 or aes128gcm16\?\); known: .*aes128gcm16, .*aes256gcm16, /,
  );
  assert.throws(
    () => parseProposals("3des-sha1-modp1024", "IKE"),
    /ConfigError: IKE algorithm '3des' in proposals is a strongSwan keyword that ipsec-wasm does not implement; known: /,
  );
  assert.throws(() => parseProposals("AES128-SHA256", "ESP"), /'AES128' in esp_proposals \(keywords are lowercase\)/);
  assert.throws(() => parseProposals("aes128-sha256-esn-x25519", "IKE"), /'esn' applies to esp_proposals only/);
  assert.throws(() => parseProposals("aes128gmac-prfsha256-x25519", "IKE"), /does not encrypt/);
  assert.throws(
    () => parseProposals(" , ", "ESP"),
    (e: unknown) => e instanceof ConfigError && e.code === "MISSING",
  );
});

test("toWireProposals: RFC 7296 §3.3's SA payload example (AES-CBC + HMAC-SHA1-96 and AES-GCM-8, ESN optional)", () => {
  const sets = parseProposals("aes128-aes192-aes256-sha1-noesn-esn, aes128gcm8-aes256gcm8-noesn-esn", "ESP");
  const [p1, p2] = toWireProposals(sets, Uint8Array.of(0x05, 0x23, 0x57, 0xbb));
  assert.equal(p1!.num, 1);
  assert.equal(p2!.num, 2);
  assert.equal(p2!.protocolId, ProtocolId.ESP);
  assert.deepEqual([...p2!.spi], [0x05, 0x23, 0x57, 0xbb]);
  // the RFC's Proposal #2, transform by transform
  assert.deepEqual(p2!.transforms, [
    { type: E, id: 18, keyLength: 128 },
    { type: E, id: 18, keyLength: 256 },
    { type: S, id: 0 },
    { type: S, id: 1 },
  ]);
  // its Proposal #1 minus AUTH_AES_XCBC_96, which ipsec-wasm does not implement
  assert.deepEqual(p1!.transforms, [
    { type: E, id: 12, keyLength: 128 },
    { type: E, id: 12, keyLength: 192 },
    { type: E, id: 12, keyLength: 256 },
    { type: I, id: 2 },
    { type: S, id: 0 },
    { type: S, id: 1 },
  ]);
  const pfs = toWireProposals(parseProposals("aes128gcm16-modp2048", "ESP"), spi4);
  assert.ok(pfs[0]!.transforms.some((t) => t.type === D));
  assert.ok(
    !toWireProposals(parseProposals("aes128gcm16-modp2048", "ESP"), spi4, { withoutDh: true })[0]!.transforms.some(
      (t) => t.type === D,
    ),
  );
  assert.deepEqual(toWireProposals(parseProposals("aes128-sha256_96", "ESP"), spi4)[0]!.transforms[1], {
    type: I,
    id: 1026,
  });
  assert.equal(
    toWireProposals(parseProposals("aes128gcm16-prfsha256-x25519", "IKE"), new Uint8Array(0))[0]!.protocolId,
    ProtocolId.IKE,
  );
});

/** The peer of ../shared/interop (its swanctl.conf, as strongswan-peer.sh generates it). */
function interopPeer(): { ike: AlgorithmSet[]; esp: AlgorithmSet[] } {
  const conf = readFileSync(new URL("interop-peer.conf", FIXTURES), "utf8");
  return {
    ike: parseProposals(/^\s*proposals = (.*)$/m.exec(conf)![1]!, "IKE"),
    esp: parseProposals(/^\s*esp_proposals = (.*)$/m.exec(conf)![1]!, "ESP"),
  };
}

test("selection reproduces what the interop charon selected for ike-probe's offer (README: ENCR=20/128, PRF=5, DH=31)", () => {
  const { ike } = interopPeer();
  const offer: Proposal[] = [
    {
      num: 1,
      protocolId: ProtocolId.IKE,
      spi: new Uint8Array(0),
      transforms: [
        { type: E, id: 20, keyLength: 128 },
        { type: P, id: 5 },
        { type: D, id: 31 },
      ],
    },
  ];
  const sel = selectProposal(offer, ike);
  assert.ok(sel.ok);
  assert.equal(formatProposal(sel.proposal), "IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519");
  assert.deepEqual(sel.chosen, {
    protocol: "IKE",
    proposalNum: 1,
    spi: new Uint8Array(0),
    encr: { id: 20, keyLength: 128 },
    prf: 5,
    dh: 31,
    esn: false,
  });
  // the probe's other groups
  for (const [group, name] of [
    [19, "ECP_256"],
    [14, "MODP_2048"],
  ] as const) {
    offer[0]!.transforms[2] = { type: D, id: group };
    const s = selectProposal(offer, ike);
    assert.ok(s.ok && formatProposal(s.proposal).endsWith(`/${name}`));
  }
});

test("NO_PROPOSAL_CHOSEN as charon logged it in the self-test (README), with the sentence that says why", () => {
  const offered = toWireProposals(parseProposals("aes128-sha1", "ESP"), spi4);
  const configured = parseProposals("aes256gcm16", "ESP");
  const sel = selectProposal(offered, configured, { ignoreDh: true });
  assert.ok(!sel.ok);
  // [CFG] received proposals: ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ
  // [CFG] configured proposals: ESP:AES_GCM_16_256/NO_EXT_SEQ
  assert.deepEqual(sel.received, ["ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ"]);
  assert.deepEqual(sel.configured, ["ESP:AES_GCM_16_256/NO_EXT_SEQ"]);
  assert.equal(
    sel.explanation,
    "peer offers only AES_CBC_128/HMAC_SHA1_96; local esp_proposals require AES_GCM_16_256",
  );
});

test("selection follows strongSwan: our configured order wins, AEAD skips integrity, DH NONE means no PFS", () => {
  // one peer proposal listing aes128 first: we prefer aes256 because we configured it first
  const peer = toWireProposals(parseProposals("aes128gcm16-aes256gcm16", "ESP"), spi4);
  const ours = parseProposals("aes256gcm16-aes128gcm16", "ESP");
  const s1 = selectProposal(peer, ours);
  assert.ok(s1.ok);
  assert.deepEqual(s1.chosen.encr, { id: 20, keyLength: 256 });
  assert.deepEqual([...s1.chosen.spi], [...spi4]);
  // across proposals too: our first set against all of theirs before our second set
  const twoPeer = toWireProposals(parseProposals("aes128-sha256, aes256gcm16", "ESP"), spi4);
  const s2 = selectProposal(twoPeer, parseProposals("aes256gcm16, aes128-sha256", "ESP"));
  assert.ok(s2.ok && s2.chosen.proposalNum === 2 && s2.proposal.num === 2);
  // an AEAD offer that also lists INTEG NONE (RFC 7296 §3.3 allows it) is accepted
  const withNone: Proposal[] = [
    {
      num: 1,
      protocolId: ProtocolId.ESP,
      spi: spi4,
      transforms: [
        { type: E, id: 20, keyLength: 128 },
        { type: I, id: 0 },
        { type: S, id: 0 },
      ],
    },
  ];
  const s3 = selectProposal(withNone, parseProposals("aes128gcm16", "ESP"));
  assert.ok(s3.ok && s3.chosen.integ === undefined);
  // PFS: peer offers MODP_2048 or NONE, we configured no group -> no PFS
  const pfsOrNot = toWireProposals(parseProposals("aes128gcm16-modp2048-none", "ESP"), spi4);
  const s4 = selectProposal(pfsOrNot, parseProposals("aes128gcm16", "ESP"));
  assert.ok(s4.ok && s4.chosen.dh === undefined && !s4.proposal.transforms.some((t) => t.type === D));
  // peer insists on MODP_2048
  const pfsOnly = toWireProposals(parseProposals("aes128gcm16-modp2048", "ESP"), spi4);
  const s5 = selectProposal(pfsOnly, parseProposals("aes128gcm16", "ESP"));
  assert.ok(!s5.ok);
  assert.equal(s5.explanation, "peer offers MODP_2048 as PFS group; local esp_proposals have none");
  // ... which the Child SA of IKE_AUTH ignores (RFC 7296 §1.2: its keys come from the IKE SA)
  assert.ok(selectProposal(pfsOnly, parseProposals("aes128gcm16", "ESP"), { ignoreDh: true }).ok);
  // we require PFS, peer offers none
  const s6 = selectProposal(
    toWireProposals(parseProposals("aes128gcm16", "ESP"), spi4),
    parseProposals("aes128gcm16-ecp256", "ESP"),
  );
  assert.ok(!s6.ok);
  assert.equal(s6.explanation, "peer offers no PFS group; local esp_proposals require ECP_256");
  const s7 = selectProposal(pfsOnly, parseProposals("aes128gcm16-ecp256-modp2048", "ESP"));
  assert.ok(s7.ok && s7.chosen.dh === 14);
});

test("selection: ESN, key lengths, protocols and unknown transform types", () => {
  const esnOnly = toWireProposals(parseProposals("aes128gcm16-esn", "ESP"), spi4);
  const s1 = selectProposal(esnOnly, parseProposals("aes128gcm16", "ESP"));
  assert.ok(!s1.ok);
  assert.equal(s1.explanation, "peer offers only EXT_SEQ; local esp_proposals require NO_EXT_SEQ");
  const s2 = selectProposal(
    toWireProposals(parseProposals("aes128gcm16-noesn-esn", "ESP"), spi4),
    parseProposals("aes128gcm16-esn-noesn", "ESP"),
  );
  assert.ok(s2.ok && s2.chosen.esn === true);
  const s3 = selectProposal(
    toWireProposals(parseProposals("aes128-sha256", "ESP"), spi4),
    parseProposals("aes256-sha256", "ESP"),
  );
  assert.ok(!s3.ok);
  assert.equal(
    s3.explanation,
    "peer offers only AES_CBC_128/HMAC_SHA2_256_128; local esp_proposals require AES_CBC_256/HMAC_SHA2_256_128",
  );
  const s4 = selectProposal(
    toWireProposals(parseProposals("aes128-sha1", "ESP"), spi4),
    parseProposals("aes128-sha256", "ESP"),
  );
  assert.ok(!s4.ok);
  assert.equal(s4.explanation, "peer offers only HMAC_SHA1_96; local esp_proposals require HMAC_SHA2_256_128");
  const ah: Proposal[] = [
    {
      num: 1,
      protocolId: ProtocolId.AH,
      spi: spi4,
      transforms: [
        { type: I, id: 12 },
        { type: S, id: 0 },
      ],
    },
  ];
  const s5 = selectProposal(ah, parseProposals("aes128-sha256", "ESP"));
  assert.ok(!s5.ok && s5.explanation === "peer offers only AH proposals; local esp_proposals are ESP");
  assert.deepEqual(s5.received, ["AH:HMAC_SHA2_256_128/NO_EXT_SEQ"]);
  // RFC 7296 §3.3.6: a proposal with a transform type we do not know is unacceptable
  const odd: Proposal[] = [
    {
      num: 1,
      protocolId: ProtocolId.ESP,
      spi: spi4,
      transforms: [
        { type: E, id: 20, keyLength: 128 },
        { type: S, id: 0 },
        { type: 7, id: 1 },
      ],
    },
  ];
  const s6 = selectProposal(odd, parseProposals("aes128gcm16", "ESP"));
  assert.ok(!s6.ok);
  assert.equal(s6.explanation, "peer's proposal 1 carries transform type 7, which IKEv2 (RFC 7296) does not define");
  assert.deepEqual(s6.received, ["ESP:AES_GCM_16_128/NO_EXT_SEQ/UNKNOWN_7_1"]);
  // IKE: a missing DH is a mismatch, not "no PFS"
  const noDh: Proposal[] = [
    {
      num: 1,
      protocolId: ProtocolId.IKE,
      spi: new Uint8Array(0),
      transforms: [
        { type: E, id: 20, keyLength: 128 },
        { type: P, id: 5 },
      ],
    },
  ];
  const s7 = selectProposal(noDh, parseProposals("aes128gcm16-prfsha256-x25519", "IKE"));
  assert.ok(!s7.ok);
  assert.equal(s7.explanation, "peer offers no DH groups; local proposals require CURVE_25519");
});

test("acceptChosen: RFC 7296 §2.7, one proposal with one transform per type, one we offered", () => {
  const offered = parseProposals(
    "aes256gcm16-aes128gcm16-prfsha384-prfsha256-ecp384-x25519, aes256-sha512-modp3072",
    "IKE",
  );
  const wire = (num: number, transforms: Proposal["transforms"]): Proposal[] => [
    { num, protocolId: ProtocolId.IKE, spi: new Uint8Array(0), transforms },
  ];
  const good = acceptChosen(
    wire(1, [
      { type: E, id: 20, keyLength: 128 },
      { type: P, id: 5 },
      { type: D, id: 31 },
    ]),
    offered,
  );
  assert.ok(good.ok);
  assert.deepEqual(good.chosen, {
    protocol: "IKE",
    proposalNum: 1,
    spi: new Uint8Array(0),
    encr: { id: 20, keyLength: 128 },
    prf: 5,
    dh: 31,
    esn: false,
  });
  const cbc = acceptChosen(
    wire(2, [
      { type: E, id: 12, keyLength: 256 },
      { type: I, id: 14 },
      { type: P, id: 7 },
      { type: D, id: 15 },
    ]),
    offered,
  );
  assert.ok(cbc.ok && cbc.chosen.integ === 14 && cbc.chosen.prf === 7);
  const bad = (answer: Proposal[], why: RegExp): void => {
    const r = acceptChosen(answer, offered);
    assert.ok(!r.ok, `accepted ${answer.map(formatProposal).join(", ")}`);
    assert.match(r.explanation, why);
  };
  bad(
    [
      ...wire(1, [
        { type: E, id: 20, keyLength: 128 },
        { type: P, id: 5 },
        { type: D, id: 31 },
      ]),
      ...wire(2, []),
    ],
    /answered with 2 proposals/,
  );
  bad(
    wire(1, [
      { type: E, id: 20, keyLength: 128 },
      { type: E, id: 20, keyLength: 256 },
      { type: P, id: 5 },
      { type: D, id: 31 },
    ]),
    /lists 2 encryption algorithms/,
  );
  bad(
    wire(3, [
      { type: E, id: 20, keyLength: 128 },
      { type: P, id: 5 },
      { type: D, id: 31 },
    ]),
    /proposal number 3, but we offered 2/,
  );
  bad(
    wire(1, [
      { type: E, id: 20, keyLength: 192 },
      { type: P, id: 5 },
      { type: D, id: 31 },
    ]),
    /not what we offered as proposal 1/,
  );
  bad(
    wire(2, [
      { type: E, id: 20, keyLength: 128 },
      { type: P, id: 5 },
      { type: D, id: 31 },
    ]),
    /not what we offered as proposal 2/,
  );
  bad(
    wire(1, [
      { type: E, id: 20, keyLength: 128 },
      { type: P, id: 5 },
    ]),
    /not what we offered/,
  );
  // the Child SA answer in IKE_AUTH carries no DH even when we offered PFS for rekeying
  const esp = parseProposals("aes128gcm16-ecp256", "ESP");
  const answer: Proposal[] = [
    {
      num: 1,
      protocolId: ProtocolId.ESP,
      spi: spi4,
      transforms: [
        { type: E, id: 20, keyLength: 128 },
        { type: S, id: 0 },
      ],
    },
  ];
  assert.ok(!acceptChosen(answer, esp).ok);
  const r = acceptChosen(answer, esp, { ignoreDh: true });
  assert.ok(r.ok && r.chosen.dh === undefined && [...r.chosen.spi].join() === [...spi4].join());
});

const esp = (text: string): Chosen => {
  const sel = selectProposal(toWireProposals(parseProposals(text, "ESP"), spi4), parseProposals(text, "ESP"));
  assert.ok(sel.ok, text);
  return sel.chosen;
};

test("keyLengths: RFC 4106 §8.1, RFC 3602/4868/2404, RFC 3686 §5.1, RFC 7634 §2", () => {
  assert.deepEqual(keyLengths(esp("aes128gcm16")), {
    encrKey: 20,
    integKey: 0,
    prfOut: 0,
    ivBytes: 8,
    icvBytes: 16,
    aead: true,
  });
  assert.deepEqual(keyLengths(esp("aes256gcm8")), {
    encrKey: 36,
    integKey: 0,
    prfOut: 0,
    ivBytes: 8,
    icvBytes: 8,
    aead: true,
  });
  assert.deepEqual(keyLengths(esp("aes192gcm12")), {
    encrKey: 28,
    integKey: 0,
    prfOut: 0,
    ivBytes: 8,
    icvBytes: 12,
    aead: true,
  });
  assert.deepEqual(keyLengths(esp("aes256-sha512")), {
    encrKey: 32,
    integKey: 64,
    prfOut: 0,
    ivBytes: 16,
    icvBytes: 32,
    aead: false,
  });
  assert.deepEqual(keyLengths(esp("aes128-sha384")), {
    encrKey: 16,
    integKey: 48,
    prfOut: 0,
    ivBytes: 16,
    icvBytes: 24,
    aead: false,
  });
  assert.deepEqual(keyLengths(esp("aes128-sha1")), {
    encrKey: 16,
    integKey: 20,
    prfOut: 0,
    ivBytes: 16,
    icvBytes: 12,
    aead: false,
  });
  assert.deepEqual(keyLengths(esp("aes128-sha256_96")), {
    encrKey: 16,
    integKey: 32,
    prfOut: 0,
    ivBytes: 16,
    icvBytes: 12,
    aead: false,
  });
  assert.deepEqual(keyLengths(esp("aes128ctr-sha256")), {
    encrKey: 20,
    integKey: 32,
    prfOut: 0,
    ivBytes: 8,
    icvBytes: 16,
    aead: false,
  });
  assert.deepEqual(keyLengths(esp("chacha20poly1305")), {
    encrKey: 36,
    integKey: 0,
    prfOut: 0,
    ivBytes: 8,
    icvBytes: 16,
    aead: true,
  });
  assert.deepEqual(keyLengths(esp("aes256gmac")), {
    encrKey: 36,
    integKey: 0,
    prfOut: 0,
    ivBytes: 8,
    icvBytes: 16,
    aead: true,
  });
  assert.deepEqual(keyLengths(esp("null-sha256")), {
    encrKey: 0,
    integKey: 32,
    prfOut: 0,
    ivBytes: 0,
    icvBytes: 16,
    aead: false,
  });
  const ike = selectProposal(
    toWireProposals(parseProposals("aes256gcm16-prfsha384-ecp384", "IKE"), new Uint8Array(0)),
    parseProposals("aes256gcm16-prfsha384-ecp384", "IKE"),
  );
  assert.ok(ike.ok);
  assert.deepEqual(keyLengths(ike.chosen), {
    encrKey: 36,
    integKey: 0,
    prfOut: 48,
    ivBytes: 8,
    icvBytes: 16,
    aead: true,
  });
});

test("espSuiteKeyword gives keywords the dataplane's parseSuite accepts, with the same key and ICV sizes", () => {
  const texts = [
    "aes128gcm8",
    "aes128gcm12",
    "aes128gcm16",
    "aes192gcm16",
    "aes256gcm8",
    "aes256gcm12",
    "aes256gcm16",
    "aes256gcm16-esn",
    "aes128-sha1",
    "aes128-sha256",
    "aes128-sha256_96",
    "aes192-sha384",
    "aes256-sha512",
    "aes256-sha256-esn",
    "null-sha256",
    "chacha20poly1305",
    "chacha20poly1305-esn",
    "aes128ctr-sha256",
    "aes192ctr-sha384",
    "aes256ctr-sha512-esn",
    "aes128gmac",
    "aes256gmac-esn",
  ];
  for (const text of texts) {
    const c = esp(text);
    const kw = espSuiteKeyword(c);
    assert.equal(kw, text, text);
    const suite = parseSuite(kw);
    const k = keyLengths(c);
    assert.equal(suite.encKeyBytes, k.encrKey, text);
    assert.equal(suite.integKeyBytes, k.integKey, text);
    assert.equal(suite.icvBytes, k.icvBytes, text);
    assert.equal(suite.esn, c.esn, text);
  }
  // AES-CBC without an integrity algorithm is not a usable ESP suite
  assert.equal(espSuiteKeyword(esp("aes128")), undefined);
});

test("explainMismatch covers the empty cases", () => {
  assert.equal(
    explainMismatch([], parseProposals("aes128gcm16", "ESP")),
    "peer offers no proposals; local esp_proposals have 1",
  );
  assert.equal(
    explainMismatch(toWireProposals(parseProposals("aes128gcm16", "ESP"), spi4), []),
    "no local proposals are configured",
  );
});

test("IKE proposals keep only the ciphers our SK payload implements; AES-CTR alone is a clear configuration error", () => {
  const sets = implementableIkeProposals(defaultProposals("IKE"));
  assert.equal(formatAlgorithmSet(sets[0]!).includes("AES_CTR"), false);
  assert.ok(formatAlgorithmSet(sets[0]!).includes("AES_CBC_128"));
  assert.ok(formatAlgorithmSet(sets[1]!).includes("CHACHA20_POLY1305"));
  assert.throws(
    () => implementableIkeProposals(parseProposals("aes128ctr-sha256-prfsha256-x25519", "IKE"), { key: "proposals" }),
    /AES-CBC, AES-GCM or ChaCha20-Poly1305 only, not AES_CTR_128.*available for ESP/,
  );
  const esp = parseProposals("aes128ctr-sha256", "ESP");
  assert.deepEqual(implementableIkeProposals(esp), esp);
});
