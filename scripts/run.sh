#!/usr/bin/env bash
# README command (1): install what is missing, build, and serve on SQLite at
# http://127.0.0.1:3000 (override with LEPTOS_SITE_ADDR / DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
exec target/release/tollbooth serve
