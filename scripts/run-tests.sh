#!/usr/bin/env bash
# Runs every *.test.ts under the given folders (default: the whole project)
# with node's test runner; Node 20 does not expand globs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  echo "Usage: $(basename "$0") [FOLDER...]   (default: services scripts manifests)"
  exit 0
fi

folders=("$@")
[[ ${#folders[@]} -gt 0 ]] || folders=(services scripts manifests)
mapfile -t files < <(find "${folders[@]}" -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "no test files under ${folders[*]}" >&2
  exit 1
fi
# A hung test fails on its own instead of holding the run until CI gives up.
exec node --import tsx --test --test-concurrency=1 --test-timeout=180000 "${files[@]}"
