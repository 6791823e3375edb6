#!/usr/bin/env bash
# CI for the TypeScript SDK: type-check the example against the committed .d.ts, then run it
# against a fresh server.
#
#   sdk/typescript/check.sh target/debug/console-server
#
# Needs Node.js >= 20 with npm. Starts SERVER_BIN on a free port with a scratch data
# directory, creates the console administrator through setup, runs the compiled example
# and always stops the server.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 SERVER_BIN" >&2
  exit 2
fi
server_bin=$(realpath "$1")
[[ -x "$server_bin" ]] || { echo "check.sh: $1 is not an executable" >&2; exit 2; }
cd "$(dirname "$0")"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "check.sh: $tool not found; install Node.js >= 20" >&2; exit 2; }
done

step() { printf '\n==> %s\n' "$*"; }

# npm keeps a copy of the lock it installed in node_modules/.package-lock.json.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  step "npm ci (sdk/typescript)"
  npm ci --no-audit --no-fund
fi

step "tsc --strict --noEmit"
npx --no-install tsc --strict --noEmit

step "compile the example (out/, gitignored)"
rm -rf out
# Just checked above; emit only.
npx --no-install tsc --noCheck --outDir out

# node -e is CommonJS whatever package.json says.
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
base="http://127.0.0.1:$port"
data_dir=$(mktemp -d)
log="$data_dir/server.log"
admin_password="check-Admin-Passw0rd"
console_email="admin@example.com"
console_password="check-Passw0rd-1234"
server_pid=""

stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$data_dir"
}
trap stop_server EXIT
fail() {
  echo "check.sh: $*" >&2
  echo "--- server log (last 40 lines) ---" >&2
  tail -n 40 "$log" >&2 || true
  exit 1
}

step "start $server_bin on $base"
OPENLIST_ADMIN_PASSWORD="$admin_password" \
SECRET_KEY="check-sh-$(node -e 'console.log(require("crypto").randomBytes(24).toString("hex"))')" \
  "$server_bin" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" >"$log" 2>&1 &
server_pid=$!

# status URL [JSON-BODY]: prints the HTTP status of a GET (or of a POST with the body).
status() {
  node -e '
    const [url, body] = process.argv.slice(1);
    const init = body === undefined ? {} :
      { method: "POST", headers: { "content-type": "application/json" }, body };
    fetch(url, init).then(async (r) => { await r.text(); console.log(r.status); },
                          () => console.log(0));' "$@"
}

ready=""
for _ in $(seq 1 300); do
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited before it was ready"
  if [[ $(status "$base/ready") == 200 ]]; then ready=1; break; fi
  sleep 0.2
done
[[ -n "$ready" ]] || fail "the server was not ready after 60 s"

step "POST /console/api/setup"
code=$(status "$base/console/api/setup" \
  "{\"email\":\"$console_email\",\"name\":\"Check\",\"password\":\"$console_password\"}")
[[ "$code" == 201 ]] || fail "setup answered HTTP $code, expected 201"

step "invite two members, so the example reads the group's members over two pages"
node -e '
  const [base, email, password] = process.argv.slice(1);
  const post = (path, body, token) => fetch(base + path, {
    method: "POST", body: JSON.stringify(body),
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  }).then(async (r) => { if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`); return r.json(); });
  (async () => {
    const { data } = await post("/console/api/login", { email, password });
    await post("/console/api/workspaces/current/members/invite-email",
      { emails: ["member1@example.com", "member2@example.com"], role: "normal" }, data.access_token);
  })().catch((e) => { console.error(e.message); process.exit(1); });' \
  "$base" "$console_email" "$console_password" || fail "seeding members failed"

step "run the example"
out=$(BASE_URL="$base" CONSOLE_EMAIL="$console_email" CONSOLE_PASSWORD="$console_password" \
  ADMIN_USERNAME=admin ADMIN_PASSWORD="$admin_password" node out/example/main.js) || {
  printf '%s\n' "$out"; fail "the example failed"; }
printf '%s\n' "$out"
grep -q '^console: 3 member(s)' <<<"$out" || fail "the example should have read 3 members"

step "TypeScript SDK: OK"
