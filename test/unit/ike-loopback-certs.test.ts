// Our initiator against our responder with certificate authentication (RFC 7427 signatures):
// RSA and ECDSA leaves from test/fixtures/certs (made by OpenSSL), a chain through an
// intermediate, and a certificate from an untrusted CA that must fail with a reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { makePair, settle, type PeerOptions } from "../helpers/ike-pair.ts";
import { parseCertificate } from "../../sdk/ike/x509.ts";
import { importPrivateKeyPem } from "../../sdk/ike/signature-auth.ts";
import { parseIdentity } from "../../sdk/ike/identity.ts";
import { IkeError } from "../../sdk/ike/errors.ts";
import type { IkeConnection } from "../../sdk/ike/config.ts";

const dir = new URL("../fixtures/certs/", import.meta.url);
const pem = (f: string): string => readFileSync(new URL(f, dir), "utf8");
const ca = parseCertificate(pem("ca.pem"));

async function side(id: string, certFiles: string[], keyFile: string): Promise<Partial<IkeConnection>> {
  return {
    local: {
      auth: "pubkey",
      id: parseIdentity(id),
      certs: certFiles.map((f) => parseCertificate(pem(f))),
      key: await importPrivateKeyPem(pem(keyFile)),
    },
    remote: { auth: "pubkey", id: "any", cacerts: [ca] },
    psk: undefined,
  };
}

const A: PeerOptions = {
  addr: "198.18.0.1",
  remoteAddr: "198.18.0.2",
  id: "client.example.org",
  localTs: "198.51.100.1/32",
  remoteTs: "203.0.113.0/24",
};
const B: PeerOptions = {
  addr: "198.18.0.2",
  remoteAddr: "198.18.0.1",
  id: "swan.example.org",
  localTs: "203.0.113.0/24",
  remoteTs: "198.51.100.0/24",
};

const CASES = [
  {
    name: "ECDSA P-256 initiator, RSA-2048 responder",
    a: ["client.example.org", ["ec256.pem"], "ec256.key"],
    b: ["swan.example.org", ["rsa.pem"], "rsa.key"],
  },
  {
    name: "RSA responder key in PKCS#1 form, ECDSA P-384 initiator through an intermediate CA",
    a: ["gw384.example.org", ["ec384.pem", "inter.pem"], "ec384.key"],
    b: ["swan.example.org", ["rsa.pem"], "rsa.pkcs1.key"],
  },
] as const;

for (const c of CASES) {
  test(`certificates: ${c.name}`, async () => {
    const p = await makePair(
      { ...A, id: c.a[0], extra: await side(c.a[0], [...c.a[1]], c.a[2]) },
      { ...B, extra: await side(c.b[0], [...c.b[1]], c.b[2]) },
    );
    const r = p.a.initiate("peer");
    r.catch(() => undefined);
    await settle();
    const { ike, child } = await r.catch((e) => {
      throw new Error(`${e.message}\n${p.logs.b.join("\n")}`);
    });
    assert.equal(ike.state, "ESTABLISHED");
    assert.ok(child);
    assert.ok(
      p.logs.a.some((l) => /authentication of 'swan\.example\.org' with .* successful/.test(l)),
      p.logs.a.join("\n"),
    );
    assert.ok(
      p.logs.b.some((l) =>
        new RegExp(`authentication of '${c.a[0].replace(/\./g, "\\.")}' with .* successful`).test(l),
      ),
      p.logs.b.join("\n"),
    );
    p.a.close();
    p.b.close();
  });
}

test("certificates: a leaf from an untrusted CA fails with AUTHENTICATION_FAILED and says why", async () => {
  const p = await makePair(
    { ...A, extra: await side("client.example.org", ["ec256.pem"], "ec256.key") },
    { ...B, extra: await side("swan.example.org", ["other-leaf.pem"], "other-leaf.key") },
  );
  const r = p.a.initiate("peer");
  r.catch(() => undefined);
  await settle();
  const err = await r.then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof IkeError);
  assert.equal(err.code, "AUTHENTICATION_FAILED");
  assert.match(err.message, /certificate of 'swan\.example\.org' not trusted/);
  p.a.close();
  p.b.close();
});
