#!/usr/bin/env bash
# Fuzzes the API against its own OpenAPI document with schemathesis (pinned
# in scripts/setup.sh): a freshly started server on a new SQLite database,
# one organization (Enterprise: no rate limit in the way) with an API key
# holding every scope, and a platform admin token. Every operation is run
# with schemathesis' examples, coverage and fuzzing phases, at most
# $ST_MAX_EXAMPLES (default 25) generated cases each, checking that no
# answer is a server error and that every answer matches its documented
# schema. Exits non-zero on any failure.
#
# Not fuzzed: the gateway's /v1 routes (they forward to a provider; their
# own tests drive them against the in-repo upstream double) and
# POST /webhooks/stripe (signed by Stripe; tested with signed events).
#
# Usage: scripts/schemathesis.sh [path to the tollbooth binary]
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${1:-target/debug/tollbooth}"
ST=.venv-test/bin/st
[ -x "$BIN" ] || { echo "missing $BIN: build it first (cargo build -p tollbooth-server)" >&2; exit 1; }
[ -x "$ST" ] || { echo "missing $ST: run scripts/setup.sh" >&2; exit 1; }
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-25}"

DIR="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$DIR"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
export DATABASE_URL="sqlite://$DIR/fuzz.db" TOLLBOOTH_SEED=false TOLLBOOTH_SEED_DEMO_USAGE=false RUST_LOG="${RUST_LOG:-warn}"
export LEPTOS_SITE_ADDR="127.0.0.1:$PORT"

"$BIN" migrate >/dev/null
ORG_JSON="$("$BIN" create-org --name Fuzz --owner-email owner@fuzz.example --plan enterprise --json)"
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
KEY="$(field "$ORG_JSON" api_key)"
"$BIN" create-admin --email admin@fuzz.example --password "schemathesis-admin-password" >/dev/null
ADMIN="$("$BIN" create-admin-token --email admin@fuzz.example --name schemathesis | tail -1)"

"$BIN" serve >"$DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "$BASE/readyz" >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }

# Things with ids, so that the operations on one are run on a real one
# (their answers then checked against the document) and not only on
# made-up ids that are 404.
api() { curl -fsS -X "$1" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$BASE/api/v1$2" ${3:+-d "$3"}; }
RESERVATION="$(field "$(api POST /reservations '{"checks": [{"metric": "tokens", "amount": 100}], "ttl_seconds": 3600}')" reservation_id)"
BUDGET="$(field "$(api POST /budgets '{"name": "Fuzz", "scope": "organization", "period": "monthly", "amount_usd": "100"}')" id)"
api PUT /providers/groq '{"kind": "openai_compatible", "base_url": "https://api.groq.com/openai/v1", "api_key": "gsk_fuzz0123456789"}' >/dev/null
cat >"$DIR/schemathesis.toml" <<TOML
[[operations]]
include-path-regex = "^/api/v1/reservations/"
parameters = { "path.id" = "$RESERVATION" }

[[operations]]
include-path-regex = "^/api/v1/budgets/"
parameters = { "path.id" = "$BUDGET" }

[[operations]]
include-path = "/api/v1/keys/{id}/model-allowlist"
parameters = { "path.id" = "$(field "$ORG_JSON" api_key_id)" }

[[operations]]
include-path = "/api/v1/providers/{name}"
parameters = { "path.name" = "groq" }

[[operations]]
include-path-regex = "^/api/admin/tenants/"
parameters = { "path.id" = "$(field "$ORG_JSON" org_id)" }
TOML

# Generation is seeded so a run can be repeated; ST_SEED picks another.
COMMON=(--checks not_a_server_error,response_schema_conformance,content_type_conformance
        --max-examples "$MAX_EXAMPLES" --seed "${ST_SEED:-21}" --workers 2
        --request-timeout 30 --no-color)
status=0
echo "schemathesis: organization API (/api/v1, probes, docs)"
"$ST" --config-file "$DIR/schemathesis.toml" run "$BASE/api/openapi.json" "${COMMON[@]}" --exclude-path-regex '^/(v1/|webhooks/|api/admin)' \
    -H "Authorization: Bearer $KEY" || status=1
echo "schemathesis: platform admin API (/api/admin)"
"$ST" --config-file "$DIR/schemathesis.toml" run "$BASE/api/openapi.json" "${COMMON[@]}" --include-path-regex '^/api/admin' \
    -H "Authorization: Bearer $ADMIN" || status=1
if grep -q "ERROR" "$DIR/server.log"; then
    echo "the server logged errors during the run:" >&2
    grep "ERROR" "$DIR/server.log" | head -20 >&2
    status=1
fi
exit "$status"
