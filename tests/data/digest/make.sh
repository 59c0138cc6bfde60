#!/usr/bin/env bash
# Test vectors for Conekta's `Digest` header, all over body.json (an order.paid event, no
# trailing newline), made with the openssl CLI. Run from anywhere: `bash make.sh`.
#
# Accepted (signed with ../keys/webhook_private.pem):
#   sig_digestinfo.b64  RSA PKCS#1 v1.5 SHA-256 signature of the body (type-1 padding + DigestInfo)
#   sig_hex.b64         type-1 padding, no DigestInfo, over the body's SHA-256 as 64 lowercase hex
#   sig_hex_upper.b64   the same over 64 uppercase hex characters
#   sig_raw32.b64       type-1 padding, no DigestInfo, over the body's 32 SHA-256 bytes
# Refused:
#   forged_other_key.b64     sig_digestinfo's form made with ../keys/other_private.pem
#   forged_other_body.b64    sig_hex's form over the SHA-256 of a different body (amount 35001)
#   forged_hex_newline.b64   sig_hex's form over the 64 hex characters plus a newline (sha256sum's)
#   forged_unpadded.b64      raw RSA (no padding) over the hex digest left-padded with zero bytes
#   forged_truncated.b64     sig_digestinfo without its last byte
#   forged_bitflip.b64       sig_digestinfo with the lowest bit of its last byte flipped
#   forged_type2.b64         PKCS#1 v1.5 *encryption* (type-2 padding) of the hex digest with the
#                            public key; random, so this script only rewrites it with --type2
set -euo pipefail
cd "$(dirname "$0")"
keys=../keys
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sign() { openssl pkeyutl -sign -inkey "$1" -in "$2" "${@:3}"; }
b64() { base64 -w0; }

openssl dgst -sha256 -binary body.json > "$tmp/h.bin"
printf %s "$(sha256sum body.json | cut -c1-64)" > "$tmp/hex.txt"
tr a-f A-F < "$tmp/hex.txt" > "$tmp/HEX.txt"

sign $keys/webhook_private.pem "$tmp/h.bin" -pkeyopt digest:sha256 > "$tmp/sig.bin"
b64 < "$tmp/sig.bin" > sig_digestinfo.b64
sign $keys/webhook_private.pem "$tmp/hex.txt" | b64 > sig_hex.b64
sign $keys/webhook_private.pem "$tmp/HEX.txt" | b64 > sig_hex_upper.b64
sign $keys/webhook_private.pem "$tmp/h.bin" | b64 > sig_raw32.b64

sign $keys/other_private.pem "$tmp/h.bin" -pkeyopt digest:sha256 | b64 > forged_other_key.b64
sed 's/"amount":35000/"amount":35001/' body.json | sha256sum | cut -c1-64 | tr -d '\n' \
  > "$tmp/other_hex.txt"
sign $keys/webhook_private.pem "$tmp/other_hex.txt" | b64 > forged_other_body.b64
{ cat "$tmp/hex.txt"; echo; } > "$tmp/hex_nl.txt"
# pkeyutl -sign refuses inputs longer than 64 bytes without a digest; rsautl does not.
openssl rsautl -sign -inkey $keys/webhook_private.pem -in "$tmp/hex_nl.txt" | b64 \
  > forged_hex_newline.b64
{ head -c 192 /dev/zero; cat "$tmp/hex.txt"; } > "$tmp/block.bin"   # 192 + 64 = 256 bytes
openssl rsautl -sign -raw -inkey $keys/webhook_private.pem -in "$tmp/block.bin" | b64 \
  > forged_unpadded.b64
head -c 255 "$tmp/sig.bin" | b64 > forged_truncated.b64
last=$(tail -c 1 "$tmp/sig.bin" | od -An -tu1 | tr -d ' ')
{ head -c 255 "$tmp/sig.bin"; printf "\\$(printf %03o $((last ^ 1)))"; } | b64 > forged_bitflip.b64
if [[ "${1:-}" == --type2 || ! -e forged_type2.b64 ]]; then
  openssl pkeyutl -encrypt -pubin -inkey $keys/webhook_public.pem -in "$tmp/hex.txt" | b64 \
    > forged_type2.b64
fi
