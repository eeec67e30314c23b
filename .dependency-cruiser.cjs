// Import rules for sdk/ and assembly/, checked by `npm run lint:deps` (npm test, .ci/run).
// This file is the source of truth for the layers; ARCHITECTURE.md describes them.
//
// A folder may import its own files and the folders of LOWER layers only: never a higher layer,
// never a folder on its own layer. Inside a folder files may import each other freely (sdk/ike's
// tasks/, task-manager.ts, child-sa.ts, backend.ts included), but no import cycle anywhere.

/**
 * sdk/, lowest first.
 *  0 net, packet, wasm  leaves: IP address text (net), packet checksums (packet), the per-runtime
 *                       wasm loaders (wasm); they import no other sdk folder
 *  1 dataplane          the ESP/AH dataplane over the wasm, its ABI (abi.generated.ts), control crypto
 *  2 sa                 SA files (ip xfrm, charon logs, Wireshark esp_sa) -> SaConfig
 *  3 ike                IKEv2: codec, proposals, selectors, IKE SAs, the daemon
 *  4 config             swanctl.conf -> connections the IKE daemon runs (parse, resolve)
 *  5 diag               detectors, counters, status report, metrics, Wireshark keys (read dataplane and ike)
 *  6 pcap               capture files and `pcap decrypt` (uses sa and the ICV detector in diag)
 *  7 io, node, deno     runtime adapters: sockets, TUN, capture; one runtime each, never each other
 *  8 cli                the `ipsec-wasm` command
 * sdk/index.ts (the package entry) sits above all of them; nothing in sdk/ imports it.
 */
const SDK_LAYERS = [
  ["net", "packet", "wasm"],
  ["dataplane"],
  ["sa"],
  ["ike"],
  ["config"],
  ["diag"],
  ["pcap"],
  ["io", "node", "deno"],
  ["cli"],
];

/**
 * assembly/, lowest first: abi.ts (the ABI numbers, imports nothing) -> crypto -> sad (SA slots,
 * SPI table, replay, lifetimes) -> esp (encap, decap, AH) -> diag and control.ts (off the hot
 * path) -> the entry points index.ts (the dataplane) and primitives.ts (test-only crypto).
 */
const ASSEMBLY_LAYERS = [
  ["abi\\.ts$"],
  ["crypto/"],
  ["sad/"],
  ["esp/"],
  ["diag/", "control\\.ts$"],
  ["index\\.ts$", "primitives\\.ts$"],
];

/** One rule per layer member: it may not import members of its own layer or of higher ones. */
function layerRules(root, layers, asPath) {
  const rules = [];
  layers.forEach((layer, rank) => {
    for (const member of layer) {
      const above = layers
        .slice(rank)
        .flat()
        .filter((m) => m !== member);
      if (above.length === 0) continue;
      rules.push({
        name: `layer:${root}/${member.replace(/\\|\$|\/$/g, "")}`,
        comment: `${root}/${member.replace(/\\|\$/g, "")} is on layer ${rank}: it imports lower layers only (see .dependency-cruiser.cjs)`,
        severity: "error",
        from: { path: `^${root}/${asPath(member)}` },
        to: { path: `^${root}/(${above.map(asPath).join("|")})` },
      });
    }
  });
  return rules;
}

const sdkFolders = SDK_LAYERS.flat();

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "an import cycle: break it by moving what both sides need into a lower module",
      severity: "error",
      from: { path: "^(sdk|assembly)/", pathNot: "^sdk/ike/" },
      to: { circular: true },
    },
    {
      name: "no-circular-ike",
      comment:
        "an import cycle in sdk/ike. The exchanges (tasks/) see their IKE SA through a type-only import of " +
        "ike-sa.ts, as charon's tasks hold an ike_sa_t: that edge is erased at compile time, so only cycles " +
        "made of runtime imports are refused here",
      severity: "error",
      from: { path: "^sdk/ike/" },
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "sdk-folder-has-a-layer",
      comment: "a new folder under sdk/ needs a place in SDK_LAYERS (.dependency-cruiser.cjs)",
      severity: "error",
      from: { path: "^sdk/[^/]+/", pathNot: `^sdk/(${sdkFolders.join("|")})/` },
      to: {},
    },
    {
      name: "no-import-of-package-entry",
      comment: "sdk/index.ts is the package entry: import the module that defines the thing instead",
      severity: "error",
      from: { path: "^sdk/" },
      to: { path: "^sdk/index\\.ts$" },
    },
    ...layerRules("sdk", SDK_LAYERS, (m) => `${m}/`),
    ...layerRules("assembly", ASSEMBLY_LAYERS, (m) => m),
  ],
  options: {
    includeOnly: "^(sdk|assembly)/",
    // Type-only imports count: a cycle or wrong-way import through types couples the modules too.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    combinedDependencies: false,
  },
};
