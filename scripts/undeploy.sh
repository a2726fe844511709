#!/usr/bin/env bash
# Removes the ingress and/or egress objects; Tarantool, MinIO and their data stay.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [ingress|egress|all]

Deletes the Deployment, Service, HPA, PodDisruptionBudget and ServiceAccount of the chosen
service (default all: both). Tarantool, MinIO, their volumes and the namespace stay, so a later
deploy finds its data. To remove everything, data included:
  kubectl delete namespace ${NAMESPACE}
USAGE
}

main() {
  parse_service_arg "$@"
  local target="${TARGET}"

  require_cluster
  local service
  for service in $(expand_services "${target}"); do
    info "deleting minitoolstream-${service}"
    kubectl delete --kustomize "${MANIFESTS_DIR}" --selector "$(component_selector "${service}")" --ignore-not-found --wait
  done
  kubectl get pods --namespace "${NAMESPACE}"
}

main "$@"
