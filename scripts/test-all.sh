#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh Debian
# machine (as root), checks generated code, types and scripts, builds, and
# runs every test. CI runs exactly this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  echo "Usage: $(basename "$0")   (installs test dependencies, then lints, builds and runs all tests)"
  exit 0
fi

step() { echo "==> $*"; }

missing=()
command -v tarantool >/dev/null || missing+=(tarantool)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
command -v chromium >/dev/null || missing+=(chromium)
if [[ ${#missing[@]} -gt 0 ]]; then
  step "installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "error: installing ${missing[*]} needs root (apt-get); run as root or install them first" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

step "installing npm dependencies"
npm ci --no-audit --no-fund

step "buf lint"
npx buf lint

step "generated code is current"
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
npx buf generate --output "$fresh"
diff -r "$fresh/gen" gen >/dev/null || { echo "error: gen/ is stale; run npm run generate and commit" >&2; exit 1; }

step "type check"
npx tsc --noEmit -p tsconfig.json
# The dashboard has its own configuration: the DOM library, which the services must not see.
npx tsc --noEmit -p services/ui

step "format check"
npx prettier --check "services/**/*.ts" "scripts/**/*.ts" "manifests/**/*.ts"

step "build"
npm run build

step "tests"
bash scripts/run-tests.sh
