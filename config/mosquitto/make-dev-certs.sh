#!/bin/sh
# Make a throw-away CA and a server certificate for the broker's TLS listener.
#
# For development and the demo stack only: run at compose-up (the "certs" service) into
# a volume, so no private key is ever committed. Idempotent: existing files are kept.
# Usage: make-dev-certs.sh OUT_DIR [SERVER_NAME ...]   (default names: mosquitto localhost)
set -eu

out=${1:?usage: make-dev-certs.sh OUT_DIR [SERVER_NAME ...]}
shift
[ "$#" -gt 0 ] || set -- mosquitto localhost
mkdir -p "$out"
cd "$out"

if [ -s server.crt ] && [ -s server.key ] && [ -s ca.crt ]; then
  echo "make-dev-certs: certificates already in $out, kept"
  exit 0
fi

umask 077
san="IP:127.0.0.1"
for name in "$@"; do san="$san,DNS:$name"; done

openssl req -x509 -newkey rsa:2048 -nodes -days 825 -sha256 \
  -subj "/CN=dialguard dev CA" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$1" \
  -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days 825 -sha256 -extfile server.ext -out server.crt 2>/dev/null
rm -f server.csr server.ext ca.srl ca.key   # the CA key is not needed again: nothing else gets signed
chmod 0644 ca.crt server.crt
chmod 0640 server.key
# mosquitto's container user must be able to read the key (e.g. FILE_OWNER=1883:1883)
if [ -n "${FILE_OWNER:-}" ]; then chown "$FILE_OWNER" ca.crt server.crt server.key; fi
echo "make-dev-certs: CA and server certificate for $* written to $out"
