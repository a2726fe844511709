#!/usr/bin/env bash
# Builds the service images and, when k3s runs here, imports them into its containerd.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [ingress|egress|all] [TAG]
       $(basename "$0") TAG

Builds minitoolstream-<service>:TAG from the Dockerfile (build arg SERVICE) and imports it
into k3s (k3s ctr images import) when k3s is installed. A first argument that is not a
service name is the tag; the service defaults to all and the tag to latest.

Examples:
  $(basename "$0") latest            # both images, tag latest
  $(basename "$0") ingress v1.1.0    # one image
USAGE
}

main() {
  local target=all tag=latest
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    -*) usage >&2; die "unknown option: $1" ;;
  esac
  if [[ $# -gt 0 ]] && is_service_arg "$1"; then
    target="$1"
    shift
  fi
  if [[ $# -gt 0 ]]; then
    tag="$1"
    shift
  fi
  [[ $# -eq 0 ]] || { usage >&2; die "too many arguments"; }
  [[ "${tag}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "\"${tag}\" is not a valid image tag"

  require_docker
  local service image
  for service in $(expand_services "${target}"); do
    image="minitoolstream-${service}:${tag}"
    info "building ${image}"
    docker build --build-arg "SERVICE=${service}" --tag "${image}" "${REPO_ROOT}"
    import_into_k3s "${image}"
  done
}

# k3s runs its own containerd, which does not see Docker's images.
import_into_k3s() {
  local image="$1"
  if ! command -v k3s >/dev/null 2>&1; then
    info "k3s not found here: ${image} stays in Docker only (push it to a registry your cluster pulls from)"
    return 0
  fi
  local sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  info "importing ${image} into k3s"
  docker save "${image}" | "${sudo[@]}" k3s ctr images import -
}

main "$@"
