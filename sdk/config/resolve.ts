/**
 * From a parsed swanctl.conf to connections the IKE state machine can run: identities parsed,
 * the pre-shared key picked the way charon's credential manager picks it, certificates and keys
 * read from swanctl's directory layout (x509/, x509ca/, private/, rsa/, ecdsa/ beside the file).
 * @module
 */
import { findSecret, type SwanctlConfig, type ConnectionConfig } from "./swanctl.ts";
import { ConfigError } from "../ike/config-error.ts";
import { parseIdentity, type IkeIdentity } from "../ike/identity.ts";
import { parseCertificate, type Certificate } from "../ike/x509.ts";
import { importPrivateKeyPem, type PrivateKey } from "../ike/signature-auth.ts";
import { DEFAULT_RETRANSMIT, type IkeConnection } from "../ike/config.ts";
import { findEapSecret as findEapSecretFor } from "../ike/eap-secrets.ts";
import { implementableIkeProposals } from "../ike/proposals.ts";
import type { VipPoolConfig } from "../ike/pool.ts";
import type { EapSecret } from "../ike/eap-secrets.ts";

/** File access, so this stays runtime-neutral. */
export interface ResolveIo {
  /** Directory of the swanctl.conf (relative certificate and key names are looked up under it). */
  dir: string;
  readFile(path: string): Promise<Uint8Array>;
  /**
   * File names in a directory ([] when it does not exist). With it, as `swanctl --load-all`:
   * every certificate in x509ca/ is a trust anchor when a connection names no cacerts, and every
   * unencrypted key in private/, rsa/ and ecdsa/ is loaded besides the secrets section's.
   */
  listDir?(path: string): Promise<string[]>;
}

/** What the daemon runs: the connections, the pools their peers lease from, the EAP passwords. */
export interface ResolvedConfig {
  connections: IkeConnection[];
  pools: VipPoolConfig[];
  eapSecrets: EapSecret[];
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const join = (dir: string, sub: string, file: string): string =>
  file.startsWith("/") ? file : `${dir.replace(/\/$/, "")}/${sub}/${file}`;

async function loadCert(io: ResolveIo, sub: string, file: string, conn: string): Promise<Certificate> {
  const path = join(io.dir, sub, file);
  let bytes: Uint8Array;
  try {
    bytes = await io.readFile(path);
  } catch (e) {
    throw new ConfigError(
      "BAD_VALUE",
      `connection '${conn}': cannot read certificate ${path} (${(e as Error).message})`,
    );
  }
  const pem = text(bytes);
  return parseCertificate(pem.includes("-----BEGIN") ? pem : bytes);
}

/** Files of `dir/sub` (none without listDir or without the directory), sorted. */
async function listed(io: ResolveIo, sub: string): Promise<string[]> {
  if (!io.listDir) return [];
  try {
    return (await io.listDir(`${io.dir.replace(/\/$/, "")}/${sub}`)).sort();
  } catch {
    return [];
  }
}

/** The keys swanctl would load from private/, rsa/ and ecdsa/ (unencrypted PEM; others skipped). */
async function dirKeys(io: ResolveIo, named: Set<string>): Promise<PrivateKey[]> {
  const keys: PrivateKey[] = [];
  for (const sub of ["private", "rsa", "ecdsa"])
    for (const f of await listed(io, sub)) {
      const path = join(io.dir, sub, f);
      if (named.has(path)) continue;
      try {
        keys.push(await importPrivateKeyPem(text(await io.readFile(path))));
      } catch {
        /* encrypted or not a key: only the secrets section can unlock it */
      }
    }
  return keys;
}

async function loadKeys(cfg: SwanctlConfig, io: ResolveIo): Promise<PrivateKey[]> {
  const keys: PrivateKey[] = [];
  for (const ref of cfg.privateKeys) {
    const sub = ref.kind === "private" ? "private" : ref.kind;
    const path = join(io.dir, sub, ref.file);
    let bytes: Uint8Array;
    try {
      bytes = await io.readFile(path);
    } catch (e) {
      throw new ConfigError("BAD_VALUE", `cannot read private key ${path} (${(e as Error).message})`);
    }
    keys.push(await importPrivateKeyPem(text(bytes)));
  }
  return keys;
}

function pickKey(keys: PrivateKey[], cert: Certificate): PrivateKey | undefined {
  return keys.find((k) => k.alg === cert.publicKeyAlg && (k.alg !== "ec" || k.curve === cert.curve));
}

/** Resolves every connection of a swanctl.conf. Errors name the connection and the file. */
export async function resolveConnections(cfg: SwanctlConfig, io: ResolveIo): Promise<IkeConnection[]> {
  return (await resolveConfig(cfg, io)).connections;
}

/** Resolves the connections, and passes on the pools and the EAP secrets with parsed identities. */
export async function resolveConfig(cfg: SwanctlConfig, io: ResolveIo): Promise<ResolvedConfig> {
  const keys = cfg.privateKeys.length ? await loadKeys(cfg, io) : [];
  const needsDirKeys = cfg.connections.some((c) => c.local.auth === "pubkey" && c.local.certs.length > 0);
  if (needsDirKeys && io.listDir) {
    const named = new Set(cfg.privateKeys.map((r) => join(io.dir, r.kind === "private" ? "private" : r.kind, r.file)));
    keys.push(...(await dirKeys(io, named)));
  }
  const eapSecrets: EapSecret[] = cfg.eapSecrets.map((e) => ({
    ids: e.ids.map((id) => parseIdentity(id)),
    secret: e.secret,
  }));
  const connections: IkeConnection[] = [];
  for (const c of cfg.connections) connections.push(await resolveOne(c, cfg, io, keys, eapSecrets));
  return { connections, pools: cfg.pools, eapSecrets };
}

/**
 * EAP (RFC 7296 §2.16): the client needs its own password; a gateway needs at least one to check
 * anybody. The peer's IKE identity is not what authenticates an EAP client (strongSwan: remote.id
 * defaults to %any); the EAP identity is, against eap_id.
 */
function eapSide(
  c: ConnectionConfig,
  side: "local" | "remote",
  eapSecrets: EapSecret[],
): IkeIdentity | "any" | undefined {
  const round = c[side];
  if (round.auth !== "eap-mschapv2") return undefined;
  if (side === "remote") {
    if (eapSecrets.length === 0)
      throw new ConfigError(
        "MISSING",
        `connection '${c.name}': remote auth = eap-mschapv2 but the secrets section has no eap-<name> { id = ..., secret = ... } to check clients with`,
      );
    return round.eapId ? parseIdentity(round.eapId) : "any";
  }
  const text = round.eapId ?? round.id;
  const eapId = text ? parseIdentity(text) : "any";
  if (eapId === "any")
    throw new ConfigError(
      "MISSING",
      `connection '${c.name}': local auth = eap-mschapv2 needs eap_id = <user name> (or id) to answer the EAP identity request with`,
    );
  if (!findEapSecretFor(eapSecrets, eapId))
    throw new ConfigError(
      "MISSING",
      `connection '${c.name}': no eap secret in the secrets section for eap_id '${text}' (add eap-<name> { id = ${text}, secret = ... })`,
    );
  return eapId;
}

async function resolveOne(
  c: ConnectionConfig,
  cfg: SwanctlConfig,
  io: ResolveIo,
  keys: PrivateKey[],
  eapSecrets: EapSecret[],
): Promise<IkeConnection> {
  const certs = await Promise.all(c.local.certs.map((f) => loadCert(io, "x509", f, c.name)));
  // swanctl loads every x509ca/ file as a trust anchor; a connection without cacerts trusts them all.
  const caFiles = c.remote.cacerts.length || c.remote.auth !== "pubkey" ? c.remote.cacerts : await listed(io, "x509ca");
  const cacerts = await Promise.all(caFiles.map((f) => loadCert(io, "x509ca", f, c.name)));
  let localId: IkeIdentity | "any" = c.local.id ? parseIdentity(c.local.id) : "any";
  if (localId === "any" && c.local.auth === "pubkey" && certs[0]) localId = { idType: 9, data: certs[0].subjectDer };
  const remoteId: IkeIdentity | "any" = c.remote.id ? parseIdentity(c.remote.id) : "any";
  let key: PrivateKey | undefined;
  if (c.local.auth === "pubkey") {
    if (!certs[0])
      throw new ConfigError(
        "MISSING",
        `connection '${c.name}': local auth = pubkey needs certs = <file> (looked up in ${io.dir}/x509)`,
      );
    key = pickKey(keys, certs[0]);
    if (!key)
      throw new ConfigError(
        "MISSING",
        `connection '${c.name}': no private key in the secrets section matches certificate '${certs[0].subject}'`,
      );
  }
  if (c.remote.auth === "pubkey" && cacerts.length === 0) {
    throw new ConfigError(
      "MISSING",
      `connection '${c.name}': remote auth = pubkey needs cacerts = <file> (looked up in ${io.dir}/x509ca) to trust the peer's certificate`,
    );
  }
  const psk = c.local.auth === "psk" || c.remote.auth === "psk" ? findSecret(cfg, c.local.id, c.remote.id) : undefined;
  if (c.local.auth === "psk" && !psk) {
    throw new ConfigError(
      "MISSING",
      `connection '${c.name}': auth = psk but no ike secret in the secrets section matches '${c.local.id ?? "%any"}' - '${c.remote.id ?? "%any"}'`,
    );
  }
  const localEap = eapSide(c, "local", eapSecrets);
  const remoteEap = eapSide(c, "remote", eapSecrets);
  return {
    name: c.name,
    localAddrs: c.localAddrs,
    remoteAddrs: c.remoteAddrs,
    localPort: c.localPort,
    remotePort: c.remotePort,
    ikeProposals: implementableIkeProposals(c.proposals, { key: `connections.${c.name}.proposals` }),
    local: { auth: c.local.auth, id: localId, certs, key, ...(localEap ? { eapId: localEap } : {}) },
    remote: { auth: c.remote.auth, id: remoteId, cacerts, ...(remoteEap ? { eapId: remoteEap } : {}) },
    psk,
    children: c.children,
    dpdDelay: c.dpdDelay,
    dpdTimeout: c.dpdTimeout,
    rekeyTime: c.rekeyTime,
    overTime: c.overTime,
    randTime: c.randTime,
    fragmentation: c.fragmentation,
    // A userspace dataplane carries ESP only inside UDP (RFC 3948), so encapsulation is always forced.
    encap: true,
    keyingTries: c.keyingtries,
    retransmit: { ...DEFAULT_RETRANSMIT },
    ...(c.vips.length ? { vips: c.vips } : {}),
    ...(c.pools.length ? { pools: c.pools } : {}),
  };
}
