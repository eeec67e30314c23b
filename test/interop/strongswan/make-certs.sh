#!/usr/bin/env bash
# make-certs.sh - throwaway X.509 test PKI for certificate (pubkey) IKEv2 auth
# against the strongSwan peer (peer.sh, SWAN_AUTH=pubkey SWAN_CERT_DIR=DIR).
#
#   make-certs.sh DIR [rsa|ecdsa] [DAYS]
#
# Writes into DIR (created, mode 700):
#   ca.crt ca.key          self-signed CA "ipsec-wasm test CA (<type>)"
#   swan.crt swan.key      leaf for the strongSwan side, SAN DNS:swan.example.org
#   client.crt client.key  leaf for the caller (our library), SAN DNS:client.example.org
# rsa = RSA 2048, ecdsa = ECDSA P-256 (prime256v1); keys are PKCS#8 PEM, certs
# PEM, SHA-256 signatures.  IKEv2 FQDN IDs are matched against the dNSName SAN.
# Generated at test time into a temp dir: private keys are never committed.
# Uses only openssl (always present where Node is); SWAN_LOCAL_ID and
# SWAN_REMOTE_ID change the two names.
set -euo pipefail

DIR=${1:?usage: make-certs.sh DIR [rsa|ecdsa] [DAYS]}
TYPE=${2:-rsa}
DAYS=${3:-30}
SWAN_ID=${SWAN_LOCAL_ID:-swan.example.org}
CLIENT_ID=${SWAN_REMOTE_ID:-client.example.org}

case $TYPE in
rsa) keyopts=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
ecdsa) keyopts=(-algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -pkeyopt ec_param_enc:named_curve) ;;
*) echo "make-certs.sh: type must be rsa or ecdsa" >&2; exit 2 ;;
esac

mkdir -p "$DIR"
chmod 700 "$DIR"
cd "$DIR"
umask 077

genkey() { openssl genpkey "${keyopts[@]}" -out "$1" 2>/dev/null; }

genkey ca.key
openssl req -new -x509 -sha256 -days "$DAYS" -key ca.key -out ca.crt \
	-subj "/O=ipsec-wasm/CN=ipsec-wasm test CA ($TYPE)" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash"

# leaf NAME CN: key, CSR, certificate signed by the CA with the FQDN as SAN
leaf() {
	local name=$1 cn=$2
	genkey "$name.key"
	openssl req -new -sha256 -key "$name.key" -subj "/O=ipsec-wasm/CN=$cn" -out "$name.csr"
	cat >"$name.ext" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:$cn
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	openssl x509 -req -sha256 -days "$DAYS" -in "$name.csr" -CA ca.crt -CAkey ca.key \
		-CAcreateserial -extfile "$name.ext" -out "$name.crt" 2>/dev/null
	rm -f "$name.csr" "$name.ext"
}
leaf swan "$SWAN_ID"
leaf client "$CLIENT_ID"
rm -f ca.srl
chmod 644 ./*.crt
openssl verify -CAfile ca.crt swan.crt client.crt >/dev/null
echo "$DIR"
