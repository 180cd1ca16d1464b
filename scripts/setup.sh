#!/usr/bin/env bash
# Installs what a fresh machine is missing to build Tollbooth: the wasm32 target,
# wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in Cargo.lock,
# the browser libraries pinned in package.json (echarts and swagger-ui-dist, served from
# target/site/vendor),
# Python test packages in .venv-test (aiosmtpd, the openai and anthropic SDKs, schemathesis),
# and (with --e2e) Debian's chromium plus the npm packages of end2end/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

WBG_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WBG_VERSION" ]; then
    echo "installing wasm-bindgen-cli $WBG_VERSION (takes a few minutes once)"
    cargo install wasm-bindgen-cli --version "$WBG_VERSION"
fi

# npm ci only when package-lock.json changed since the last install (npm writes
# node_modules/.package-lock.json on every install).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi

# Python packages the tests run, from PyPI, in a virtualenv of the checkout
# (.venv-test, git-ignored): aiosmtpd is the mail tests' SMTP server; the
# official openai and anthropic SDKs are the clients the mock LLM
# (`tollbooth mock-llm`) must satisfy unchanged; schemathesis fuzzes the API
# against its OpenAPI document (scripts/schemathesis.sh), and jsonschema
# checks that document against the OpenAPI 3.1 schema (server/tests/api/openapi.rs).
# Reinstalled when a pin changes.
PY_TEST_PACKAGES=('aiosmtpd==1.4.6' 'openai==3.63.0' 'anthropic==2.17.0' 'schemathesis==4.32.5' 'jsonschema==4.26.0')
if ! .venv-test/bin/python - "${PY_TEST_PACKAGES[@]}" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
sys.exit(any(version(name) != pin for name, pin in (p.split("==") for p in sys.argv[1:])))
PY
then
    [ -x .venv-test/bin/python ] || python3 -m venv .venv-test
    .venv-test/bin/pip install --quiet --disable-pip-version-check "${PY_TEST_PACKAGES[@]}"
fi

if [ "${1:-}" = "--e2e" ]; then
    if [ ! -x /usr/bin/chromium ]; then
        SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
    fi
    (cd end2end && npm ci --no-audit --no-fund)
fi
