/**
 * What IKE needs of an ESP dataplane, and nothing more (like charon's kernel_ipsec interface):
 * SPIs, installing a Child SA's two SAs, switching its outbound SA on, removing it. The IKE code
 * is tested against a fake; sdk/ike/dataplane-backend.ts puts it on the wasm {@link Dataplane}.
 * Lifetime events travel the other way: the backend reports them and the daemon hands them to
 * the child's IKE SA (`childSoftExpired` / `childHardExpired`).
 * @module
 */
import type { ChildSa, ChildSaKeys } from "./child-sa.ts";
import type { Endpoint } from "./payloads.ts";

/** The dataplane as IKE sees it. */
export interface ChildBackend {
  /** A fresh inbound SPI, unique in the dataplane (>= 256). */
  allocateSpi(): number;
  /**
   * Installs a Child SA's inbound SA and, when `outbound`, its outbound SA; otherwise the outbound
   * keys wait for {@link activateOutbound} (a rekey responder waits for the old SA's DELETE).
   * The caller wipes `keys` after the call.
   */
  installChild(child: ChildSa, keys: ChildSaKeys, outbound: boolean, path: { local: Endpoint; remote: Endpoint }): void;
  activateOutbound(child: ChildSa): void;
  removeChild(child: ChildSa): void;
}
