#!/usr/bin/env bash
# Copies services/tarantool/init.lua to manifests/tarantool/init.lua, the file the kustomize
# ConfigMap generator reads (kustomize may not load files outside manifests/).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

readonly SOURCE="${REPO_ROOT}/services/tarantool/init.lua"
readonly COPY="${MANIFESTS_DIR}/tarantool/init.lua"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--check]

Copies services/tarantool/init.lua into manifests/tarantool/. With --check, changes nothing and
exits 1 when the copy is missing or differs.
USAGE
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    --check)
      [[ -f "${SOURCE}" ]] || die "${SOURCE#"${REPO_ROOT}/"} does not exist"
      cmp -s "${SOURCE}" "${COPY}" || die "manifests/tarantool/init.lua differs from services/tarantool/init.lua; run $(basename "$0")"
      info "manifests/tarantool/init.lua is up to date"
      ;;
    "")
      [[ -f "${SOURCE}" ]] || die "${SOURCE#"${REPO_ROOT}/"} does not exist"
      cp "${SOURCE}" "${COPY}"
      info "copied services/tarantool/init.lua to manifests/tarantool/init.lua"
      ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
}

main "$@"
