#!/usr/bin/env bash
# Send one signed order webhook with curl and openssl.
#   URL=http://acme.localhost:8000/api/integrations/1/webhook SECRET=whsec_... \
#   RESOLVE=acme.localhost:8000:127.0.0.1 bash docs/examples/send_order_webhook.sh
set -euo pipefail
: "${URL:?set URL to the webhook URL of the integration}" "${SECRET:?set SECRET to its whsec_ secret}"

id="msg_$(date +%s%N)"
ts="$(date +%s)"
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
body="$(printf '{"type":"order.created","timestamp":"%s","data":{"store_id":1,"external_id":"CURL-%s","total":"9.90"}}' "$now" "$ts")"
# The key is the base64 after whsec_; the signature is HMAC-SHA256 over "id.timestamp.body".
key_hex="$(printf '%s' "${SECRET#whsec_}" | base64 -d | od -An -vtx1 | tr -d ' \n')"
signature="$(printf '%s' "$id.$ts.$body" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | base64)"

curl -sS -w '\n%{http_code}\n' ${RESOLVE:+--resolve "$RESOLVE"} -X POST "$URL" \
  -H 'Content-Type: application/json' \
  -H "webhook-id: $id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$signature" \
  --data "$body"
