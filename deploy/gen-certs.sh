#!/usr/bin/env bash
# Creates a private CA, a server certificate and a client certificate (for mTLS) with
# openssl, for deploy/compose.yaml and deploy/k8s.
#
# usage: deploy/gen-certs.sh OUT_DIR [SERVER_NAME...]
#   OUT_DIR/ca.pem, ca-key.pem           the CA (keep ca-key.pem private)
#   OUT_DIR/server.pem, server-key.pem   for --tls-cert / --tls-key; valid for every
#                                        SERVER_NAME (DNS names or IP addresses) and
#                                        localhost, 127.0.0.1
#   OUT_DIR/client.pem, client-key.pem   for edbp-client --cert / --key
# Clients verify the server with --ca-cert OUT_DIR/ca.pem; the server verifies clients
# with --client-ca OUT_DIR/ca.pem.
set -euo pipefail

if [ "$#" -lt 1 ]; then
  echo "usage: $0 OUT_DIR [SERVER_NAME...]" >&2
  exit 2
fi
out=$1
shift
mkdir -p "$out"
umask 077

san="DNS:localhost,IP:127.0.0.1"
for name in "$@"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then
    san="$san,IP:$name"
  else
    san="$san,DNS:$name"
  fi
done

openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=edbp CA" \
  -keyout "$out/ca-key.pem" -out "$out/ca.pem" 2>/dev/null

issue() {  # issue NAME CN EXTENSIONS
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" \
    -keyout "$out/$1-key.pem" -out "$out/$1.csr" 2>/dev/null
  openssl x509 -req -in "$out/$1.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" \
    -CAcreateserial -days 825 -out "$out/$1.pem" -extfile <(printf '%s\n' "$3") 2>/dev/null
  rm -f "$out/$1.csr"
}
issue server edbp-server "subjectAltName=$san
extendedKeyUsage=serverAuth"
issue client edbp-client "extendedKeyUsage=clientAuth"
# The server runs as uid 10001 in the image: let it read its key through the mount.
chmod 644 "$out/ca.pem" "$out/server.pem" "$out/client.pem" "$out/server-key.pem"
echo "gen-certs: CA, server ($san) and client certificates in $out"
