#!/usr/bin/env bash
# Builds the site the way cargo-leptos would, without needing cargo-leptos:
#   1. the hydrate bundle for wasm32 (frontend crate, `wasm-release` profile),
#   2. wasm-bindgen (pinned to Cargo.lock's wasm-bindgen) into target/site/pkg,
#      without the wasm `name` section (function names for debuggers: more
#      than half of the file),
#   3. wasm-opt -O1 (npm's `binaryen`, see package.json; Debian's older
#      binaryen breaks hydration) on the bundle: what goes on the wire is
#      the brotli copy, and -O1 gave the smallest one (measured on this
#      bundle: no wasm-opt 1,007 KB, -O1 999 KB, -Oz 1,125 KB, -Os 1,118 KB,
#      -O2 1,136 KB: the heavier levels shrink the raw file but leave it
#      less compressible; -O1 also takes 20 s where -Oz takes 2 minutes),
#   4. style/ and public/ copied into target/site, and echarts and Swagger UI
#      (npm, see package.json; installed by scripts/setup.sh) into
#      target/site/vendor (Swagger UI with its start script, for /api/docs),
#   5. content-hashed names, leptos' hash file and brotli/gzip copies
#      (scripts/finish-site.mjs),
#   6. the server binary with `ssr` (profile given by $1: dev or release; default dev).
# TOLLBOOTH_WASM_OPT=0 skips step 3; TOLLBOOTH_BUILD_SERVER=0 skips step 6.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${1:-dev}"
SITE=target/site

cargo build -p tollbooth-frontend --target wasm32-unknown-unknown --profile wasm-release
rm -rf "$SITE.tmp" && mkdir -p "$SITE.tmp/pkg"
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$SITE.tmp/pkg" --out-name tollbooth \
    target/wasm32-unknown-unknown/wasm-release/tollbooth_frontend.wasm
if [ "${TOLLBOOTH_WASM_OPT:-1}" != 0 ]; then
    WASM_OPT=node_modules/.bin/wasm-opt
    [ -x "$WASM_OPT" ] || { echo "missing $WASM_OPT: run scripts/setup.sh (npm ci)" >&2; exit 1; }
    "$WASM_OPT" -O1 "$SITE.tmp/pkg/tollbooth_bg.wasm" -o "$SITE.tmp/pkg/tollbooth_bg.wasm"
fi
cp style/main.css "$SITE.tmp/pkg/tollbooth.css"
cp -R public/. "$SITE.tmp/"
ECHARTS=node_modules/echarts/dist/echarts.min.js
[ -f "$ECHARTS" ] || { echo "missing $ECHARTS: run scripts/setup.sh (npm ci)" >&2; exit 1; }
mkdir -p "$SITE.tmp/vendor" && cp "$ECHARTS" "$SITE.tmp/vendor/echarts.min.js"
SWAGGER=node_modules/swagger-ui-dist
[ -f "$SWAGGER/swagger-ui-bundle.js" ] || { echo "missing $SWAGGER: run scripts/setup.sh (npm ci)" >&2; exit 1; }
mkdir -p "$SITE.tmp/vendor/swagger-ui"
cp "$SWAGGER/swagger-ui-bundle.js" "$SWAGGER/swagger-ui.css" "$SWAGGER/LICENSE" "$SITE.tmp/vendor/swagger-ui/"
cp server/assets/swagger-ui-init.js "$SITE.tmp/vendor/swagger-ui/tollbooth-init.js"
node scripts/finish-site.mjs "$SITE.tmp"
rm -rf "$SITE" && mv "$SITE.tmp" "$SITE"

# scripts/test.sh sets TOLLBOOTH_BUILD_SERVER=0: `cargo test` has just built
# target/debug/tollbooth (with the test build's features; rebuilding it here
# would compile three crates again, about 3 minutes).
if [ "${TOLLBOOTH_BUILD_SERVER:-1}" != 0 ]; then
    cargo build -p tollbooth-server --profile "$PROFILE"
fi
echo "built: $SITE and target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/tollbooth"
