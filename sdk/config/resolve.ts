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
import { implementableIkeProposals } from "../ike/proposals.ts";

/** File access, so this stays runtime-neutral. */
export interface ResolveIo {
  /** Directory of the swanctl.conf (relative certificate and key names are looked up under it). */
  dir: string;
  readFile(path: string): Promise<Uint8Array>;
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
  const keys = cfg.privateKeys.length ? await loadKeys(cfg, io) : [];
  const out: IkeConnection[] = [];
  for (const c of cfg.connections) out.push(await resolveOne(c, cfg, io, keys));
  return out;
}

async function resolveOne(
  c: ConnectionConfig,
  cfg: SwanctlConfig,
  io: ResolveIo,
  keys: PrivateKey[],
): Promise<IkeConnection> {
  const certs = await Promise.all(c.local.certs.map((f) => loadCert(io, "x509", f, c.name)));
  const cacerts = await Promise.all(c.remote.cacerts.map((f) => loadCert(io, "x509ca", f, c.name)));
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
  return {
    name: c.name,
    localAddrs: c.localAddrs,
    remoteAddrs: c.remoteAddrs,
    localPort: c.localPort,
    remotePort: c.remotePort,
    ikeProposals: implementableIkeProposals(c.proposals, { key: `connections.${c.name}.proposals` }),
    local: { auth: c.local.auth, id: localId, certs, key },
    remote: { auth: c.remote.auth, id: remoteId, cacerts },
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
  };
}
