#!/usr/bin/env bash
# README command (1): install what is missing, build, and serve on SQLite at
# http://127.0.0.1:3000 (override with LEPTOS_SITE_ADDR / DATABASE_URL).
# The server is built with the dev profile so a fresh machine is serving within
# the 15-minute budget (measured ~8 min here); for production use
# PROFILE=release scripts/run.sh (the optimized build adds ~8 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-dev}"
scripts/setup.sh
scripts/build.sh "$PROFILE"
BIN_DIR=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
exec "target/$BIN_DIR/tollbooth" serve
