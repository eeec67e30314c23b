#!/usr/bin/python3
"""scapy as an independent ESP implementation, for ipsec-wasm's tests.

Used two ways:
  * as a module by test/fixtures/scapy/gen.py (make_sa, encrypt, decrypt);
  * as a filter by test/interop/scapy-live.test.ts: one JSON request on stdin,
    one JSON answer on stdout (format below).

Request:  {"cases": [{"sa": SA, "outer": "4"|"6", "natt": bool (ESP in UDP 4500),
                      "encrypt": [{"inner": hex, "seq": int, "iv": hex?}],
                      "decrypt": [{"wire": hex, "seq": int}]}]}
  SA = {"spi", "mode": "tunnel"|"transport", "esp": suite keyword, "encKey": hex,
        "integKey": hex?, "icvLength": int, "esn": bool}
  `seq` is the full (64-bit with ESN) sequence number: scapy cannot infer the
  high half, so the caller says it.
Answer:   {"cases": [{"encrypt": [{"wire": hex, "l3HeaderLength": int}],
                      "decrypt": [{"ok": true, "packet": hex} |
                                  {"ok": false, "error": str}]}]}

What scapy 2.5 does not do by itself, and is added here from the RFCs:
  * AES-GCM with 8- or 12-byte ICVs (scapy's AES-GCM uses cryptography's AESGCM,
    which only knows 16-byte tags): a CryptAlgo on cryptography's GCM mode,
    which truncates the tag (RFC 4106 §8).
  * HMAC-SHA-256 truncated to 96 bits (Linux's `auth hmac(sha256)`): an AuthAlgo.
  * ESN with HMAC: scapy never adds seq-hi to the ESP ICV input; RFC 4303
    §2.2.1 says the ICV covers SPI..Next Header followed by seq-hi.
"""
import json
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC
from scapy.compat import raw
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import (AUTH_ALGOS, CRYPT_ALGOS, ESP, AuthAlgo,
                                CryptAlgo, IPSecIntegrityError,
                                SecurityAssociation)

OUTER4 = ("198.18.0.1", "198.18.0.2")
OUTER6 = ("2001:db8:ffff::1", "2001:db8:ffff::2")

# suite keyword -> (scapy crypt algo, cipher key bytes, scapy auth algo, ICV bytes, integ key bytes)
SUITES = {
    "aes128gcm16": ("AES-GCM", 16, None, 16, 0),
    "aes256gcm16": ("AES-GCM", 32, None, 16, 0),
    "aes128gcm8": ("AES-GCM-TRUNC", 16, None, 8, 0),
    "aes128gcm12": ("AES-GCM-TRUNC", 16, None, 12, 0),
    "aes128-sha256": ("AES-CBC", 16, "SHA2-256-128", 16, 32),
    "aes128-sha256_96": ("AES-CBC", 16, "SHA2-256-96", 12, 32),
    "aes256-sha1": ("AES-CBC", 32, "HMAC-SHA1-96", 12, 20),
    "null-sha256": ("NULL", 0, "SHA2-256-128", 16, 32),
}

CRYPT_ALGOS["AES-GCM-TRUNC"] = CryptAlgo(
    "AES-GCM-TRUNC", cipher=algorithms.AES, mode=modes.GCM, key_size=(16, 24, 32),
    block_size=1, iv_size=8, salt_size=4, icv_size=16,
    format_mode_iv=lambda sa, iv, **kw: sa.crypt_salt + iv)
AUTH_ALGOS["SHA2-256-96"] = AuthAlgo("SHA2-256-96", mac=HMAC, digestmod=hashes.SHA256, icv_size=12)


class EsnAuthAlgo(AuthAlgo):
    """An HMAC whose ESP ICV also covers seq-hi (RFC 4303 §2.2.1); set seq_hi per packet."""

    def __init__(self, base):
        super().__init__(base.name + "+ESN", base.mac, base.digestmod, base.icv_size)
        self.seq_hi = 0

    def _icv(self, esp_bytes, key):
        mac = self.new_mac(key)
        mac.update(esp_bytes + struct.pack("!L", self.seq_hi))
        return mac.finalize()[:self.icv_size]

    def sign(self, pkt, key, esn_en=False, esn=0):
        pkt[ESP].data += self._icv(raw(pkt[ESP]), key)
        return pkt

    def verify(self, pkt, key, esn_en=False, esn=0):
        icv = pkt.data[len(pkt.data) - self.icv_size:]
        clone = pkt.copy()
        clone.data = clone.data[:len(clone.data) - self.icv_size]
        computed = self._icv(raw(clone), key)
        if icv != computed:
            raise IPSecIntegrityError("pkt_icv=%r, computed_icv=%r" % (icv, computed))


def make_sa(cfg, outer="4", natt=False):
    """A scapy SecurityAssociation for one SA config (the JSON form above); natt: ESP in UDP 4500."""
    crypt, _, auth, icv_len, _ = SUITES[cfg["esp"]]
    if cfg.get("icvLength", icv_len) != icv_len:
        raise ValueError("icvLength %s does not match suite %s" % (cfg["icvLength"], cfg["esp"]))
    tunnel = None
    if cfg["mode"] == "tunnel":
        src, dst = OUTER4 if outer == "4" else OUTER6
        tunnel = IP(src=src, dst=dst) if outer == "4" else IPv6(src=src, dst=dst)
    enc_key = bytes.fromhex(cfg["encKey"]) if crypt != "NULL" else None
    sa = SecurityAssociation(
        ESP, spi=cfg["spi"], crypt_algo=crypt, crypt_key=enc_key,
        crypt_icv_size=icv_len if crypt.startswith("AES-GCM") else None,
        auth_algo=auth, auth_key=bytes.fromhex(cfg["integKey"]) if auth else None,
        tunnel_header=tunnel, nat_t_header=UDP(sport=4500, dport=4500) if natt else None,
        esn_en=bool(cfg.get("esn")))
    if cfg.get("esn") and auth:
        sa.auth_algo = EsnAuthAlgo(sa.auth_algo)
    return sa


def _set_seq(sa, seq):
    # scapy treats seq_num=0 as "use the SA's counter", so always go through the counter
    sa.seq_num = seq & 0xFFFFFFFF
    sa.esn = seq >> 32
    if isinstance(sa.auth_algo, EsnAuthAlgo):
        sa.auth_algo.seq_hi = seq >> 32


def encrypt(sa, inner, seq, iv=None):
    """Encrypt one packet (tunnel: inner IP packet; transport: the IP packet). Returns (wire bytes, l3 length)."""
    pkt = IP(inner) if inner[0] >> 4 == 4 else IPv6(inner)
    _set_seq(sa, seq)
    # scapy only adds the ESN high half to the AAD when esn is non-zero-or-SA-default; pass it explicitly
    out = sa.encrypt(pkt, iv=iv, esn_en=sa.esn_en, esn=seq >> 32)
    wire = raw(out)
    return wire, len(wire) - len(raw(out[ESP]))


def decrypt(sa, wire, seq):
    """Decrypt one packet (outer IP header + ESP). Returns the inner/rebuilt packet bytes; raises on bad ICV."""
    pkt = IP(wire) if wire[0] >> 4 == 4 else IPv6(wire)
    if sa.nat_t_header and not sa.tunnel_header and isinstance(pkt, IPv6) and pkt.nh == 17:
        # scapy 2.5 bug: IPv6 transport + UDP encapsulation rewrites the UDP layer instead of the
        # IPv6 header and keeps the UDP header; strip it first, as an RFC 3948 receiver does.
        hdr = bytearray(wire[:40])
        esp = wire[48:]
        hdr[4:6] = len(esp).to_bytes(2, "big")
        hdr[6] = 50
        pkt = IPv6(bytes(hdr) + esp)
    _set_seq(sa, seq)
    return raw(sa.decrypt(pkt, esn_en=sa.esn_en, esn=seq >> 32))


def run(request):
    answer = []
    for case in request["cases"]:
        sa = make_sa(case["sa"], case.get("outer", "4"), bool(case.get("natt")))
        enc = []
        for p in case.get("encrypt", []):
            iv = bytes.fromhex(p["iv"]) if p.get("iv") else None
            wire, l3 = encrypt(sa, bytes.fromhex(p["inner"]), int(p["seq"]), iv)
            enc.append({"wire": wire.hex(), "l3HeaderLength": l3})
        dec = []
        for p in case.get("decrypt", []):
            try:
                dec.append({"ok": True, "packet": decrypt(sa, bytes.fromhex(p["wire"]), int(p["seq"])).hex()})
            except (IPSecIntegrityError, ValueError, TypeError, IndexError, struct.error) as err:
                dec.append({"ok": False, "error": "%s: %s" % (type(err).__name__, err)})
        answer.append({"encrypt": enc, "decrypt": dec})
    return {"cases": answer}


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
