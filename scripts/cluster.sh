#!/usr/bin/env bash
# Starts N Tollbooth servers (default 2) on one PostgreSQL database, as a
# deployment behind a load balancer would run them (README: "Running more
# than one server"). Each listens on its own port from BASE_PORT (3001, 3002,
# ...); stop them all with Ctrl-C.
#
#   scripts/cluster.sh            # 2 servers on postgres://postgres@127.0.0.1:5432/tollbooth_cluster
#   N=3 BASE_PORT=4001 DATABASE_URL=postgres://... PROFILE=release scripts/cluster.sh
#
# The database is created when missing; the first server to start migrates
# it and seeds the admin and demo organization (their passwords are printed
# once in its log), the others find it ready.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-2}"
BASE_PORT="${BASE_PORT:-3001}"
PROFILE="${PROFILE:-dev}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tollbooth_cluster}"
export DATABASE_URL

name="${DATABASE_URL##*/}"
name="${name%%\?*}"
server_url="${DATABASE_URL%/*}"
if ! psql "$server_url/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    psql "$server_url/postgres" -qc "CREATE DATABASE \"$name\""
fi

scripts/setup.sh
scripts/build.sh "$PROFILE"
BIN="target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/tollbooth"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
for i in $(seq 0 $((N - 1))); do
    port=$((BASE_PORT + i))
    LEPTOS_SITE_ADDR="127.0.0.1:$port" "$BIN" serve 2>&1 | sed -u "s/^/[server $((i + 1)) :$port] /" &
    pids+=($!)
    # The first one migrates and seeds; the others start once it is ready.
    if [ "$i" = 0 ]; then
        for _ in $(seq 1 120); do
            curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
            sleep 0.5
        done
    fi
done
for i in $(seq 0 $((N - 1))); do
    port=$((BASE_PORT + i))
    for _ in $(seq 1 120); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.5
    done
    echo "server $((i + 1)) ready at http://127.0.0.1:$port (database $DATABASE_URL)"
done
wait
