#!/usr/bin/env bash
# Installs LiteLLM's proxy (from PyPI, pinned) into .venv-litellm (git-ignored)
# so that `tollbooth-bench --gateway` also measures it, against the same LLM
# double, in the same run. Not needed by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
LITELLM='litellm[proxy]==1.77.7'
[ -x .venv-litellm/bin/python ] || python3 -m venv .venv-litellm
.venv-litellm/bin/pip install --quiet --disable-pip-version-check "$LITELLM"
.venv-litellm/bin/litellm --version 2>/dev/null || true
echo "LiteLLM proxy installed in .venv-litellm; now run:"
echo "  cargo build --release -p tollbooth-server --bins && target/release/tollbooth-bench --gateway --rate 1000 --seconds 10"
