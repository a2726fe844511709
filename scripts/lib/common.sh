# Helpers shared by build-image.sh, deploy.sh and undeploy.sh. Source it; do not run it.
# shellcheck shell=bash

# shellcheck disable=SC2034 # read by the scripts that source this file
readonly NAMESPACE=minitoolstream
readonly SERVICES=(ingress egress)
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
# shellcheck disable=SC2034 # read by the scripts that source this file
readonly MANIFESTS_DIR="${REPO_ROOT}/manifests"

die() {
  echo "error: $*" >&2
  exit 1
}

info() {
  echo "==> $*"
}

# True when $1 names one service or `all`.
is_service_arg() {
  case "$1" in
    ingress | egress | all) return 0 ;;
    *) return 1 ;;
  esac
}

# Prints the services that `ingress`, `egress` or `all` stands for, one a line.
expand_services() {
  if [[ "$1" == all ]]; then
    printf '%s\n' "${SERVICES[@]}"
  else
    printf '%s\n' "$1"
  fi
}

require_command() {
  local command="$1" hint="$2"
  command -v "${command}" >/dev/null 2>&1 || die "${command} is not installed or not on PATH. ${hint}"
}

require_docker() {
  require_command docker "Install Docker: https://docs.docker.com/engine/install/"
  docker info >/dev/null 2>&1 \
    || die "the Docker daemon is not reachable (is it running, and may this user use it?). Try: docker version"
}

require_cluster() {
  require_command kubectl "Install kubectl, or use the one bundled with k3s (k3s kubectl)."
  kubectl version --request-timeout=10s >/dev/null 2>&1 \
    || die "no Kubernetes cluster is reachable with the current kubeconfig. Try: kubectl cluster-info (for k3s: export KUBECONFIG=/etc/rancher/k3s/k3s.yaml)"
}

# Label selector that picks the objects of one service out of the kustomization.
component_selector() {
  echo "app.kubernetes.io/component=$1"
}

# Sets TARGET from the arguments `[ingress|egress|all]` (default all); answers --help with the
# calling script's usage function.
parse_service_arg() {
  TARGET=all
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) is_service_arg "$1" || { usage >&2; die "unknown service: $1"; }; TARGET="$1" ;;
  esac
  [[ $# -le 1 ]] || { usage >&2; die "too many arguments"; }
}
