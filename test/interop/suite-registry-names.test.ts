// Every name in the suite registry (sdk/dataplane/suite-registry.ts) against the binaries that
// define it: strongSwan's proposal keywords and log names in the installed libstrongswan (its
// gperf keyword table and enum names), the Linux kernel's xfrm algorithm names in the cached
// Debian kernel's xfrm_algo.ko, and Wireshark's ESP/IKEv2 UAT names in libwireshark. Each read
// with binutils' strings; a missing package or kernel image is a failure, never a skip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { CIPHERS, INTEGS } from "../../sdk/dataplane/suite-registry.ts";
import { requireTshark, run } from "../helpers/interop.ts";
import { KERNEL_VM_CACHE } from "../helpers/kernel-vm.ts";

/**
 * The strings of a binary. The linker stores a string that is the tail of another only once
 * ("null" inside "modpnull"), so a name also counts when a string ends with it.
 */
function stringsOf(path: string, what: string): { has(name: string): boolean; all: string[] } {
  assert.ok(existsSync(path), `${path} not found: ${what}`);
  // -n 3: strongSwan's shortest keywords (aes, sha) are 3 characters
  const all = run("strings", ["-n", "3", path], "", undefined, 60_000).split("\n");
  const exact = new Set(all);
  return { all, has: (name) => exact.has(name) || all.some((s) => s.endsWith(name)) };
}

test("strongSwan (libstrongswan) knows every registry keyword, alias and log name", { timeout: 60_000 }, () => {
  const lib = stringsOf("/usr/lib/ipsec/libstrongswan.so.0", "install the Debian package libstrongswan");
  let n = 0;
  for (const r of [...CIPHERS, ...INTEGS]) {
    for (const w of [r.keyword, ...r.aliases]) {
      assert.ok(lib.has(w), `strongSwan keyword ${w}`);
      n++;
    }
    assert.ok(lib.has(r.charon), `strongSwan name ${r.charon}`);
  }
  assert.equal(n, 64, "54 cipher and 10 integrity keywords and aliases checked");
});

test("the kernel's xfrm_algo knows every registry xfrm name", { timeout: 60_000 }, () => {
  const kver = readFileSync(`${KERNEL_VM_CACHE}/kver`, "utf8").trim();
  const ko = `${KERNEL_VM_CACHE}/kroot-${kver}/lib/modules/${kver}/kernel/net/xfrm/xfrm_algo.ko`;
  const lib = stringsOf(ko, "build the kernel image with bash test/interop/kernel/build.sh");
  for (const r of CIPHERS) {
    const names = "aead" in r.xfrm ? [r.xfrm.aead] : [r.xfrm.enc];
    for (const name of names) assert.ok(lib.has(name), `kernel ${name} (${r.keyword})`);
  }
  for (const r of INTEGS) assert.ok(lib.has(r.xfrm.auth), `kernel ${r.xfrm.auth}`);
});

test(
  "libwireshark knows every registry Wireshark name (an unknown one voids the whole table)",
  { timeout: 60_000 },
  () => {
    requireTshark();
    const path = run("sh", ["-c", "ls /usr/lib/*/libwireshark.so.* | head -1"], "", undefined, 10_000).trim();
    const lib = stringsOf(path, "install the Debian package tshark");
    for (const r of CIPHERS) {
      if ("name" in r.wireshark) {
        // a caveat says a newer Wireshark is needed: then 4.0 must not have the name
        const names = [r.wireshark.name, ...(r.wireshark.aliases ?? [])];
        for (const n of names) assert.equal(lib.has(n), r.wireshark.caveat === undefined, `Wireshark ESP ${n}`);
      }
      if (r.wiresharkIke !== undefined) assert.ok(lib.has(r.wiresharkIke), `Wireshark IKEv2 ${r.wiresharkIke}`);
    }
    for (const r of INTEGS) {
      assert.ok(lib.has(r.wireshark), `Wireshark ESP ${r.wireshark}`);
      assert.ok(lib.has(r.wiresharkIke), `Wireshark IKEv2 ${r.wiresharkIke}`);
    }
    // and where the registry says Wireshark 4.0 has no name, it has none
    assert.equal(
      lib.all.some((s) => /^AES-CCM.*\[RFC4309\]$/.test(s)),
      false,
    );
  },
);
