#!/usr/bin/python3
"""scapy as an independent ESP implementation for the issue-4 suites, for scapy-suites.test.ts.

Same JSON filter as scapy_esp.py (one request on stdin, one answer on stdout, same format; see
that file), for these suite keywords:

  aes{128,192,256}ctr-{sha1,sha256,sha384,sha512}  AES-CTR (RFC 3686) + HMAC (RFC 2404 / RFC 4868)
  aes{128,192,256}-{sha384,sha512}                 AES-CBC (RFC 3602) + HMAC-SHA-384-192 / -512-256
  aes{128,192,256}gmac                             AES-GMAC (RFC 4543), integrity only
  chacha20poly1305                                 ChaCha20-Poly1305 (RFC 7634)
  aes{128,192,256}ccm{8,12,16}                     AES-CCM (RFC 4309)

Keys as our SaConfig takes them: CTR encKey = AES key || 4-byte nonce, GMAC = AES key || 4-byte
salt, ChaCha20 = 32-byte key || 4-byte salt (scapy splits the last 4 bytes off as its salt), CCM = AES
key || 3-byte salt (scapy's AES-CCM has salt_size 3 and takes the ICV length from crypt_icv_size).

What scapy 2.5 has and what is added here:
  * AES-CCM: scapy's own, on python3-cryptography's AESCCM (nonce = salt || IV, AAD as for GCM).
  * AES-CTR, CHACHA20-POLY1305, SHA2-384-192, SHA2-512-256, HMAC-SHA1-96, SHA2-256-128: scapy's own
    (python3-cryptography underneath). scapy builds the CTR counter block as nonce || IV || 1
    (RFC 3686 §4) and the AEAD AAD as SPI || seq-hi || seq (RFC 4106 §5 / RFC 7634 §2.1).
  * AES-GMAC: scapy 2.5 has no ENCR_NULL_AUTH_AES_GMAC, so GmacAlgo below is written from RFC 4543
    §3 on python3-cryptography's AESGCM: nonce = salt || IV, empty plaintext, AAD = SPI || [seq-hi]
    || seq || IV || payload || padding || pad length || next header, the 16-byte tag is the ICV, and
    the payload travels in the clear.
  * ESN with HMAC: scapy leaves seq-hi out of the ESP ICV; scapy_esp.EsnAuthAlgo adds it
    (RFC 4303 §2.2.1), reused here together with scapy_esp's encrypt/decrypt helpers.
"""
import json
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import (CRYPT_ALGOS, ESP, CryptAlgo, IPSecIntegrityError,
                                SecurityAssociation, _ESPPlain)

from scapy_esp import OUTER4, OUTER6, EsnAuthAlgo, decrypt, encrypt

HMACS = {  # our hash name -> (scapy auth algo, ICV bytes, key bytes)
    "sha1": ("HMAC-SHA1-96", 12, 20),
    "sha256": ("SHA2-256-128", 16, 32),
    "sha384": ("SHA2-384-192", 24, 48),
    "sha512": ("SHA2-512-256", 32, 64),
}

# suite keyword -> (scapy crypt algo, encKey bytes, scapy auth algo, ICV bytes, integ key bytes)
SUITES = {"chacha20poly1305": ("CHACHA20-POLY1305", 36, None, 16, 0)}
for _bits in (128, 192, 256):
    SUITES["aes%dgmac" % _bits] = ("AES-GMAC", _bits // 8 + 4, None, 16, 0)
    for _icv in (8, 12, 16):
        SUITES["aes%dccm%d" % (_bits, _icv)] = ("AES-CCM", _bits // 8 + 3, None, _icv, 0)
    for _h, (_auth, _icv, _ikey) in HMACS.items():
        SUITES["aes%dctr-%s" % (_bits, _h)] = ("AES-CTR", _bits // 8 + 4, _auth, _icv, _ikey)
        if _h in ("sha384", "sha512"):
            SUITES["aes%d-%s" % (_bits, _h)] = ("AES-CBC", _bits // 8, _auth, _icv, _ikey)


class GmacAlgo(CryptAlgo):
    """ENCR_NULL_AUTH_AES_GMAC (RFC 4543 §3): authenticates everything, encrypts nothing."""

    def __init__(self):
        super().__init__("AES-GMAC", cipher=AESGCM, mode=None, key_size=(16, 24, 32), block_size=1,
                         iv_size=8, salt_size=4, icv_size=16)

    @staticmethod
    def _aad(spi, seq, iv, plain, esn_en, esn):
        seq_part = struct.pack("!LL", esn, seq) if esn_en else struct.pack("!L", seq)
        return struct.pack("!L", spi) + seq_part + iv + plain

    def encrypt(self, sa, esp, key, icv_size=None, esn_en=False, esn=0):
        plain = esp.data_for_encryption()
        aad = self._aad(esp.spi, esp.seq, esp.iv, plain, esn_en, esn)
        tag = AESGCM(key).encrypt(sa.crypt_salt + esp.iv, b"", aad)  # GMAC: GCM of an empty message
        return ESP(spi=esp.spi, seq=esp.seq, data=esp.iv + plain + tag)

    def decrypt(self, sa, esp, key, icv_size=None, esn_en=False, esn=0):
        iv = esp.data[:8]
        plain = esp.data[8:len(esp.data) - 16]
        icv = esp.data[len(esp.data) - 16:]
        try:
            AESGCM(key).decrypt(sa.crypt_salt + iv, icv, self._aad(esp.spi, esp.seq, iv, plain, esn_en, esn))
        except InvalidTag as err:
            raise IPSecIntegrityError("AES-GMAC ICV mismatch") from err
        padlen = plain[-2]
        data = plain[:len(plain) - padlen - 2]
        return _ESPPlain(spi=esp.spi, seq=esp.seq, iv=iv, data=data,
                         padding=plain[len(data):len(plain) - 2], padlen=padlen, nh=plain[-1], icv=icv)


CRYPT_ALGOS["AES-GMAC"] = GmacAlgo()


def make_sa(cfg, outer="4", natt=False):
    """A scapy SecurityAssociation for one SA config (scapy_esp.py's JSON form) of a suite above."""
    crypt, key_len, auth, icv_len, integ_len = SUITES[cfg["esp"]]
    if cfg.get("icvLength", icv_len) != icv_len:
        raise ValueError("icvLength %s does not match suite %s" % (cfg["icvLength"], cfg["esp"]))
    enc_key = bytes.fromhex(cfg["encKey"])
    if len(enc_key) != key_len:
        raise ValueError("%s needs a %d-byte encKey, got %d" % (cfg["esp"], key_len, len(enc_key)))
    tunnel = None
    if cfg["mode"] == "tunnel":
        src, dst = OUTER4 if outer == "4" else OUTER6
        tunnel = IP(src=src, dst=dst) if outer == "4" else IPv6(src=src, dst=dst)
    sa = SecurityAssociation(
        ESP, spi=cfg["spi"], crypt_algo=crypt, crypt_key=enc_key,
        crypt_icv_size=icv_len if crypt == "AES-CCM" else None,
        auth_algo=auth, auth_key=bytes.fromhex(cfg["integKey"]) if auth else None,
        tunnel_header=tunnel, nat_t_header=UDP(sport=4500, dport=4500) if natt else None,
        esn_en=bool(cfg.get("esn")))
    if auth and len(sa.auth_key) != integ_len:
        raise ValueError("%s needs a %d-byte integKey" % (cfg["esp"], integ_len))
    if cfg.get("esn") and auth:
        sa.auth_algo = EsnAuthAlgo(sa.auth_algo)
    return sa


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
