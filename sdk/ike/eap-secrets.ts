/**
 * EAP passwords (swanctl `secrets { eap-NAME { id = alice, secret = ... } }`) and the lookup the
 * daemon answers `findEapSecret` with, scored like charon's credential manager: an exact owner
 * beats a wildcard pattern, which beats a secret without owners (%any); the first wins on ties.
 * @module
 */
import { formatIdentity, identityMatches, type IkeIdentity } from "./identity.ts";

/** One EAP secret: its owners ("any" for a secret without ids) and the password as UTF-8 bytes. */
export interface EapSecret {
  ids: (IkeIdentity | "any")[];
  secret: Uint8Array;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * How well `owner` names `eapId`: 20 equal, 19 a pattern match, 1 any, 0 not at all. The EAP
 * identity comes off the wire as bytes, so its type may differ from the configured one ("alice"
 * as KEY_ID vs FQDN): equal text counts as equal.
 */
function score(owner: IkeIdentity | "any", eapId: IkeIdentity): number {
  if (owner === "any") return 1;
  const text = formatIdentity(owner);
  if (text === formatIdentity(eapId) || text === utf8.decode(eapId.data)) return 20;
  return identityMatches(owner, eapId) ? 19 : 0;
}

/** The password of `eapId` (a copy), or undefined when no secret names it. */
export function findEapSecret(secrets: readonly EapSecret[], eapId: IkeIdentity): Uint8Array | undefined {
  let best = 0;
  let found: Uint8Array | undefined;
  for (const s of secrets) {
    const owners = s.ids.length ? s.ids : ["any" as const];
    const sc = Math.max(...owners.map((o) => score(o, eapId)));
    if (sc > best) {
      best = sc;
      found = s.secret;
    }
  }
  return found?.slice();
}
