#!/usr/bin/env bash
# Builds the site the way cargo-leptos would, without needing cargo-leptos:
#   1. the hydrate bundle for wasm32 (frontend crate, `wasm-release` profile),
#   2. wasm-bindgen (pinned to Cargo.lock's wasm-bindgen) into target/site/pkg,
#   3. style/ and public/ copied into target/site, and echarts (npm, see package.json;
#      installed by scripts/setup.sh) into target/site/vendor,
#   4. the server binary with `ssr` (profile given by $1: dev or release; default dev).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${1:-dev}"
SITE=target/site

cargo build -p tollbooth-frontend --target wasm32-unknown-unknown --profile wasm-release
rm -rf "$SITE.tmp" && mkdir -p "$SITE.tmp/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$SITE.tmp/pkg" --out-name tollbooth \
    target/wasm32-unknown-unknown/wasm-release/tollbooth_frontend.wasm
cp style/main.css "$SITE.tmp/pkg/tollbooth.css"
cp -R public/. "$SITE.tmp/"
ECHARTS=node_modules/echarts/dist/echarts.min.js
[ -f "$ECHARTS" ] || { echo "missing $ECHARTS: run scripts/setup.sh (npm ci)" >&2; exit 1; }
mkdir -p "$SITE.tmp/vendor" && cp "$ECHARTS" "$SITE.tmp/vendor/echarts.min.js"
rm -rf "$SITE" && mv "$SITE.tmp" "$SITE"

cargo build -p tollbooth-server --profile "$PROFILE"
echo "built: $SITE and target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/tollbooth"
