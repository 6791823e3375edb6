#!/usr/bin/env bash
# Real-browser test of the served Swagger UI (tests/browser/swagger.mjs, Playwright driving
# Debian's Chromium).
#
#   cargo build --bin console-server
#   bash tests/browser/run.sh target/debug/console-server
#
# Starts the given server on a free port with a scratch data directory, runs setup and signs
# in on both surfaces, then lets the script click through /swagger-ui/ as a person would.
# Screenshots go to target/browser/*.png, the server log to target/browser/server.log.
# The server is always stopped on exit. Bounded: every wait below has a deadline.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: bash tests/browser/run.sh path/to/console-server" >&2
  exit 2
fi
server_bin=$(realpath "$1")
[ -x "$server_bin" ] || { echo "run.sh: not an executable: $1" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/target/browser"
mkdir -p "$out"
rm -f "$out"/*.png

say() { printf '[browser] %s\n' "$*"; }
die() { printf '[browser] FAIL: %s\n' "$*" >&2; exit 1; }

# --- Chromium ---------------------------------------------------------------------------
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM_PATH" ]; then
  say "installing chromium (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
    || die "could not install chromium"
fi
[ -x "$CHROMIUM_PATH" ] || die "no chromium at $CHROMIUM_PATH"

# --- Playwright (npm ci when node_modules is missing or older than package*.json) -------
stamp="$here/node_modules/.package-lock.json"   # npm writes it on every install
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ] || [ "$here/package.json" -nt "$stamp" ] \
  || [ ! -f "$here/node_modules/playwright-core/package.json" ] || [ ! -f "$here/node_modules/yaml/package.json" ]; then
  say "npm ci"
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

# --- the server -------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
base="http://127.0.0.1:$port"
data_dir=$(mktemp -d)
admin_password="browser-admin-$(date +%s)-pw"
console_email="browser@example.com"
console_password="browser-test-1234"
server_pid=""

cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$data_dir"
  if [ "$rc" -ne 0 ]; then
    say "server log (last 30 lines of $out/server.log, migrations left out):"
    grep -v 'sea_orm_migration' "$out/server.log" 2>/dev/null | tail -n 30 | sed 's/^/  | /' >&2 || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting $server_bin on $base"
OPENLIST_ADMIN_PASSWORD="$admin_password" \
SECRET_KEY="browser-test-secret-key-0123456789abcdef" \
RUST_LOG="${RUST_LOG:-info}" NO_COLOR=1 \
  "$server_bin" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" >"$out/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 300); do   # 30 s
  kill -0 "$server_pid" 2>/dev/null || die "server exited during start-up"
  if curl -fsS -m 2 -o /dev/null "$base/ready" 2>/dev/null; then ready=1; break; fi
  sleep 0.1
done
[ -n "$ready" ] || die "server not ready at $base/ready within 30 s"

# POST JSON, print the body, fail on a non-2xx status.
post() {
  curl -sS -m 10 --fail-with-body -X POST "$base$1" -H 'content-type: application/json' -d "$2" \
    || die "POST $1 failed"
}
json_get() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=process.argv[1].split(".").reduce((o,k)=>o?.[k],JSON.parse(s));if(typeof v!=="string"||!v){process.exit(1)}console.log(v)})' "$1"; }

post /console/api/setup \
  "{\"email\":\"$console_email\",\"name\":\"Browser Test\",\"password\":\"$console_password\"}" >/dev/null
console_token=$(post /console/api/login "{\"email\":\"$console_email\",\"password\":\"$console_password\"}" \
  | json_get data.access_token) || die "console login: no data.access_token"
admin_token=$(post /api/auth/login "{\"username\":\"admin\",\"password\":\"$admin_password\"}" \
  | json_get data.token) || die "admin login: no data.token"
say "signed in on both surfaces"

# --- the browser ------------------------------------------------------------------------
BASE_URL="$base" \
CONSOLE_TOKEN="$console_token" \
CONSOLE_EMAIL="$console_email" \
ADMIN_TOKEN="$admin_token" \
SCREENSHOT_DIR="$out" \
  timeout -k 5 150 node "$here/swagger.mjs"
