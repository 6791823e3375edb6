#!/usr/bin/env bash
# Contract fuzzing: schemathesis against both served specs of a running console-server,
# signed in on both surfaces, with every check, a fixed seed and a bounded example count.
#
#   bash tests/contract/run.sh path/to/console-server
#
# Exit status is schemathesis' own: 0 only with no failure and no server error on either
# surface. Reports (JUnit, and the requests of failures) go to target/contract/.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:?usage: run.sh path/to/console-server}
BIN=$(realpath "$BIN")
SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${CONTRACT_EXAMPLES:-30}
SEED=${CONTRACT_SEED:-20261201}

if ! python3 -c "import schemathesis, sys; sys.exit(schemathesis.__version__ != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

out=target/contract
rm -rf "$out"; mkdir -p "$out"
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
admin_password="contract-Admin-Pass-1"
console_password="contract-Pass-1234"

RUST_LOG=warn OPENLIST_ADMIN_PASSWORD=$admin_password \
  SECRET_KEY=contract-secret-key-0123456789abcdefghijkl \
  LOGIN_IP_LIMIT=1000000 \
  "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -sf "$base/ready" >/dev/null && break; sleep 0.1; done
curl -sf "$base/ready" >/dev/null

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -sf "$base/console/api/setup" -H 'content-type: application/json' \
  -d "{\"email\":\"admin@example.com\",\"name\":\"Admin\",\"password\":\"$console_password\"}" >/dev/null
console_token=$(curl -sf "$base/console/api/login" -H 'content-type: application/json' \
  -d "{\"email\":\"admin@example.com\",\"password\":\"$console_password\"}" | json '["data"]["access_token"]')
admin_token=$(curl -sf "$base/api/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$admin_password\"}" | json '["data"]["token"]')

common=(--checks all --seed "$SEED" --max-examples "$EXAMPLES" --no-shrink
        --request-timeout 10 --workers 1 --suppress-health-check all
        --output-truncate true)
status=0

printf '\n--- console surface (%s)\n' "$base/openapi/console.yaml"
schemathesis --config-file tests/contract/console.toml run "$base/openapi/console.yaml" --url "$base" "${common[@]}" \
  -H "Authorization: Bearer $console_token" \
  --report junit --report-junit-path "$out/console.xml" || status=1

# AList's envelope answers HTTP 200 with the real status in `code`: the two data checks
# that read the HTTP status are replaced by hooks that read the envelope's (hooks.py).
printf '\n--- admin surface (%s)\n' "$base/openapi/admin.yaml"
SCHEMATHESIS_HOOKS=tests/contract/hooks.py schemathesis --config-file tests/contract/admin.toml run "$base/openapi/admin.yaml" --url "$base" \
  "${common[@]}" --exclude-checks negative_data_rejection,positive_data_acceptance \
  -H "Authorization: $admin_token" \
  --report junit --report-junit-path "$out/admin.xml" || status=1

if grep -q 'panicked' "$out/server.log"; then
  echo "the server panicked during the run (target/contract/server.log)" >&2
  status=1
fi
exit $status
