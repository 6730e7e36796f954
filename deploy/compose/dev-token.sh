#!/bin/sh
# Prints an admin token for the compose deployment (sub dev-admin, role admin, valid 30 days),
# signed with the AUTH_JWT_SECRET that init-secrets.sh wrote. For curl and the dashboard:
#
#   TOKEN=$(deploy/compose/dev-token.sh)
#   curl -H "Authorization: Bearer $TOKEN" http://localhost:3000/api/admin/ssot
set -eu
dir=${1:-"$(dirname "$0")/secrets"}
secret=$(sed -n 's/^AUTH_JWT_SECRET=//p' "$dir/auth.env")
[ -n "$secret" ] || { echo "no AUTH_JWT_SECRET in $dir/auth.env: run init-secrets.sh first" >&2; exit 1; }

base64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
header=$(printf '{"alg":"HS256","typ":"JWT"}' | base64url)
payload=$(printf '{"sub":"dev-admin","role":"admin","iat":%d,"exp":%d}' "$now" $((now + 30 * 24 * 3600)) | base64url)
signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "$secret" -binary | base64url)
printf '%s.%s.%s\n' "$header" "$payload" "$signature"
